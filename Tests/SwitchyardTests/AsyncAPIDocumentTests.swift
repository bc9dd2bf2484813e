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
        #expect(payload["properties"]?["data"] == ["$ref": "#/components/schemas/trades_order_filled"])
        #expect(Self.document["components"]?["schemas"]?["trades_order_filled"] == .object(expected))
        #expect(payload["properties"]?["schema"]?["const"] == "trades:order_filled@1")
    }

    @Test func everyReferenceResolvesInsideTheDocument() throws {
        try Self.expectReferencesResolve(in: Self.document, atLeast: 3 * Self.registry.contracts.count)
    }

    @Test func collidingIdentifiersRefsAndGlobTokensStayDistinctAndValid() throws {
        let folder = try ContractFolder([
            "a.json": ContractFolder.contract("events:a.b"),
            "b.json": ContractFolder.contract("events.a:b"),
            "c.json": #"""
            {"channel": "events:r?[xy]*", "schema": {"definitions": {"n": {"type": "integer"}}, "type": "object",
             "properties": {"n": {"$ref": "#/definitions/n"}}}, "examples": {"valid": [{"n": 1}]}}
            """#,
        ])
        let document = AsyncAPIDocument.make(from: try ContractRegistry.load(from: folder.path))
        let channels = try #require(document["channels"]?.objectValue)
        #expect(channels.count == 3)
        #expect(Set(channels.members.compactMap { $0.value["address"]?.stringValue }) == ["events:a.b", "events.a:b", "events:r{wildcard1}{wildcard2}{wildcard3}"])
        try Self.expectReferencesResolve(in: document, atLeast: 9)
    }

    static func expectReferencesResolve(in document: JSONValue, atLeast minimum: Int) throws {
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
        collect(document)
        #expect(references.count >= minimum)
        for reference in references {
            #expect(reference.hasPrefix("#/"))
            var node: JSONValue? = document
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
