import Foundation
import JSONSchema
import SwitchyardCodegen
import Testing

@Suite("The payload generator")
struct GeneratorTests {
    @Test("names come from an identifier title, else from the channel; shared names get the origin, then a number")
    func names() {
        let names = Naming.typeNames(for: try! CodegenContract.ordered(EdgeContracts.contracts))
        let byChannel = Dictionary(uniqueKeysWithValues: zip(try! CodegenContract.ordered(EdgeContracts.contracts).map(\.channel), names))
        #expect(byChannel["edge:kinds"] == "EdgeKinds")
        #expect(byChannel["edge.*"] == "Edge")
        #expect(byChannel["system:health"] == "SystemHealthRECIO")
        #expect(byChannel["system.health"] == "SystemHealthOPA")
        #expect(byChannel["string"] == "StringPayload")
        let twins = [
            CodegenContract(channel: "a:b", schema: [:]), CodegenContract(channel: "a.b", schema: [:]),
            CodegenContract(channel: "x", schema: ["title": "OrderEvent"]),
        ]
        #expect(Naming.typeNames(for: twins) == ["AB", "AB2", "OrderEvent"])
        #expect(Naming.memberName("order_id") == "orderId")
        #expect(Naming.memberName("ID") == "id")
        #expect(Naming.memberName("2fa") == "_2fa")
        #expect(Naming.typeName("btc_price") == "BtcPrice")
    }

    @Test("a schema that cannot be typed becomes any JSON value, and each place is reported, with no crash")
    func fallbacks() throws {
        let (_, fallbacks) = try Codegen.generate(.swift, contracts: EdgeContracts.contracts)
        let places = Set(fallbacks.map { "\($0.channel) \($0.location): \($0.reason)" })
        #expect(places.contains("edge:kinds /properties/anything: no type"))
        #expect(places.contains("edge:kinds /properties/tuple/items: a list of item schemas (a tuple)"))
        #expect(places.contains("edge:kinds /properties/choice: uses anyOf"))
        #expect(places.contains("edge:kinds /properties/elsewhere: a $ref to another document (other.json#/definitions/Thing)"))
        #expect(places.contains("edge:kinds /definitions/Node/properties/children/items: a recursive $ref (#/definitions/Node)"))
        #expect(places.contains("edge:opaque /: the schema declares no properties"))
        #expect(places.contains("edge:combined /: the schema uses allOf"))
        #expect(fallbacks.count == 7)
    }

    @Test("a schema whose types can be told apart gets the matching type")
    func model() throws {
        let model = try #require(PayloadModel.build(EdgeContracts.contracts).first { $0.contract.channel == "edge:kinds" })
        guard case .object(let root) = model.body else { Issue.record("edge:kinds is opaque"); return }
        let types = Dictionary(uniqueKeysWithValues: root.properties.map { ($0.jsonName, $0.type) })
        #expect(types["nullable_required"] == .nullable(.integer))
        #expect(types["level"] == .integer)
        #expect(types["tags"] == .map(.string))
        #expect(types["details"] == .map(.json(reason: "the members have no schema")))
        #expect(types["matrix"] == .array(.array(.nullable(.number))))
        guard case .union(let union)? = types["mixed"] else { Issue.record("mixed is not a union"); return }
        #expect(union.members == [.string, .number, .boolean])
        guard case .enumeration(let side)? = types["side"], case .enumeration(let string)? = types["string"] else {
            Issue.record("side or string is not an enum"); return
        }
        #expect(side.values == ["buy", "partial_fill", "price.updated", "2x", "default", "Buy"])
        #expect(string.name == "StringValue")
        // The two $refs to Money share one type, nested in the payload type.
        #expect(types["price"] == types["fee"])
        #expect(Codegen.path(of: types["price"]!) == ["EdgeKinds", "Money"])
    }

    @Test("two contracts for one channel are an error, not two types")
    func duplicateChannel() {
        let twice = [CodegenContract(channel: "a:b", schema: [:]), CodegenContract(channel: "a:b", schema: [:])]
        #expect(throws: CodegenError.self) { try Codegen.generate(.python, contracts: twice) }
    }

    @Test("the shipped contracts load from their folder in channel order, each once")
    func loadShipped() throws {
        let contracts = try CodegenContract.load(directory: packageRoot.appendingPathComponent("contracts").path)
        #expect(contracts.count == 39)
        #expect(contracts.map(\.channel) == contracts.map(\.channel).sorted { Array($0.utf8).lexicographicallyPrecedes($1.utf8) })
        let filled = try #require(contracts.first { $0.channel == "trades:order_filled" })
        #expect(filled.file == "recio/trades_order_filled.json")
        #expect(!filled.isPattern)
        #expect(contracts.first { $0.channel == "trades:*" }?.isPattern == true)
    }
}
