import Foundation
import JSONSchema
import Testing

@testable import Switchyard

@Suite struct AsyncAPIDocumentTests {
    static let registry = try! ContractRegistry.shipped()
    static let document = AsyncAPIDocument.make(from: registry)

    @Test func describesEveryContractAsAChannelWithTwoOperations() throws {
        #expect(Self.document["asyncapi"] == "3.0.0")
        let channels = try #require(Self.document["channels"]?.objectValue)
        let operations = try #require(Self.document["operations"]?.objectValue)
        #expect(channels.count == Self.registry.contracts.count)
        #expect(operations.count == 2 * Self.registry.contracts.count)
        let filled = try #require(channels["trades_order_filled"])
        #expect(filled["address"] == "trades:order_filled")
        #expect(filled["x-switchyard"]?["retention"] == "1h")
        #expect(filled["x-switchyard"]?["critical"] == true)
        #expect(filled["x-switchyard"]?["stream_key"] == "stream:{trades:order_filled}")
    }

    @Test func patternsBecomeParameterisedAddresses() throws {
        let channel = try #require(Self.document["channels"]?["price_updated_any"])
        #expect(channel["address"] == "price.updated.{wildcard1}")
        #expect(channel["parameters"]?["wildcard1"] != nil)
    }

    @Test func messagePayloadIsTheEnvelopeWithTheContractSchemaAsData() throws {
        let message = try #require(Self.document["components"]?["messages"]?["trades_order_filled"])
        let payload = try #require(message["payload"])
        #expect(payload["required"]?.arrayValue?.contains("sequence_number") == true)
        let contract = try #require(Self.registry.contract(for: try ChannelName("trades:order_filled")))
        var expected = try #require(contract.schema.objectValue)
        expected["$schema"] = nil
        #expect(payload["properties"]?["data"] == .object(expected))
        #expect(payload["properties"]?["schema"]?["const"] == "trades:order_filled@1")
    }

    @Test func everyReferenceResolvesInsideTheDocument() throws {
        var references: [String] = []
        func collect(_ value: JSONValue) {
            switch value {
            case .object(let object):
                for (key, member) in object {
                    if key == "$ref", let text = member.stringValue { references.append(text) } else { collect(member) }
                }
            case .array(let elements): elements.forEach(collect)
            default: break
            }
        }
        collect(Self.document)
        #expect(references.count >= 3 * Self.registry.contracts.count)
        for reference in references {
            #expect(reference.hasPrefix("#/"))
            var node: JSONValue? = Self.document
            for token in reference.dropFirst(2).split(separator: "/") {
                node = node?[String(token).replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")]
            }
            #expect(node != nil, "\(reference) does not resolve")
        }
    }

    @Test func documentIsValidJSONText() throws {
        #expect(try JSONValue(parsing: Self.document.serialized()) == Self.document)
    }
}
