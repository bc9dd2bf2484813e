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

    @Test("the generated Swift of the edge contracts type-checks against the real Switchyard modules")
    func edgeSwiftTypeChecks() throws {
        let folder = try temporaryFolder("swift")
        defer { try? FileManager.default.removeItem(at: folder) }
        let (file, _) = try Codegen.generate(.swift, contracts: EdgeContracts.contracts)
        let source = folder.appendingPathComponent(file.name)
        try Data(file.contents.utf8).write(to: source)
        // A use of the types: construction with every kind of member, and the protocols' members.
        let use = #"""
            import JSONSchema
            import Switchyard

            func use() throws {
                let value = EdgeKinds(
                    `class`: "c", `default`: 1, selfValue: 1.5, orderId: "o", _2fa: true, nullableRequired: nil, nullableOptional: "x",
                    mixed: .boolean(false), anything: ["any": [1, "two"]], tuple: ["t"], choice: 7,
                    nested: .init(level: 2, inner: .init(flag: true, side: .sell)), fills: [.init(qty: 1, note: nil), .init(qty: 2)],
                    matrix: [[1.5, nil], []], tags: ["a": "b"], details: ["k": [true]], side: .partialFill, level: 2, string: .b,
                    price: .init(amount: 1.25, currency: .eur), fee: .init(amount: 0.5), tree: .init(name: "root", children: [["name": "leaf"]]),
                    elsewhere: 5, quoteD: "q")
                let _: JSONValue = try value.jsonValue()
                let _: String = EdgeKinds.contractID
                let _: ChannelName = try EdgeKinds.channelName()
                let _: [EdgeKinds.Side] = [.buy, .priceUpdated, ._2x, .default, .buy2]
                let _ = Edge(n: 1) as any ContractPayload
                let _ = EdgeOpaque(["k": 1]).members
                let _ = SystemHealthOPA(ok: true) == SystemHealthOPA(ok: nil)
                let _: [any ContractPayload.Type] = GeneratedContractPayloads.all
            }
            """#
        try Data(use.utf8).write(to: folder.appendingPathComponent("use.swift"))
        let modules = try Self.modulesFolder()
        let (status, output) = try runTool(
            "/usr/bin/env", ["swiftc", "-typecheck", "-swift-version", "6", "-I", modules.path, source.path, folder.appendingPathComponent("use.swift").path])
        #expect(status == 0, "\(output)")
    }

    /// The build's folder of Swift modules (`.build/debug/Modules`), beside this test bundle.
    static func modulesFolder() throws -> URL {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        while url.path != "/" {
            let candidate = url.appendingPathComponent("Modules")
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("Switchyard.swiftmodule").path) { return candidate }
            url.deleteLastPathComponent()
        }
        let fallback = packageRoot.appendingPathComponent(".build/debug/Modules")
        guard FileManager.default.fileExists(atPath: fallback.path) else { throw CodegenError("no Modules folder with Switchyard.swiftmodule") }
        return fallback
    }
}
