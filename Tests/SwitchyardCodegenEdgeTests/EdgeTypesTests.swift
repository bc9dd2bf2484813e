import Foundation
import JSONSchema
import Switchyard
import Testing

/// The types the SwitchyardContractsPlugin generated from this target's own `contracts/` folder,
/// which reach every branch of the generator. That this file compiles is the first test: it
/// constructs each kind of member by name and type.
@Suite("Generated Swift types for every kind of schema")
struct EdgeTypesTests {
    static let payload: JSONValue = try! JSONValue(parsing: #"""
        {"class": "c", "default": 1, "self": 1.5, "order-id": "o", "2fa": true, "nullable_required": null, "nullable_optional": "x",
         "mixed": false, "anything": {"any": [1, "two"]}, "tuple": ["t"], "choice": 7,
         "nested": {"level": 2, "inner": {"flag": true, "side": "sell"}},
         "fills": [{"qty": 1, "note": null}, {"qty": 2}], "matrix": [[1.5, null], []], "tags": {"a": "b"}, "details": {"k": [true]},
         "side": "partial_fill", "level": 2, "string": "b", "price": {"amount": 1.25, "currency": "EUR"}, "fee": {"amount": 0.5},
         "tree": {"name": "root", "children": [{"name": "leaf"}]}, "elsewhere": 5, "quote\"d": "q"}
        """#)

    /// The type's schema, compiled; without `elsewhere`, whose `$ref` to another document the
    /// generator types as any JSON value but the validator cannot resolve.
    static func schema<Payload: ContractPayload>(of type: Payload.Type) throws -> CompiledSchema {
        var schema = try JSONValue(parsing: type.contractSchema).objectValue!
        var properties = schema["properties"]!.objectValue!
        properties["elsewhere"] = nil
        schema["properties"] = .object(properties)
        return try CompiledSchema(compiling: .object(schema))
    }

    @Test("every kind of member decodes to its Swift type and encodes back; a required null is written, an optional nil left out")
    func roundTrip() throws {
        let value = try EdgeKinds(json: Self.payload)
        #expect(value.`class` == "c" && value.`default` == 1 && value.selfValue == 1.5 && value.orderId == "o" && value._2fa == true)
        #expect(value.nullableRequired == nil && value.nullableOptional == "x")
        #expect(value.mixed == .boolean(false))
        #expect(value.anything == ["any": [1, "two"]] && value.tuple == ["t"] && value.choice == 7 && value.elsewhere == 5)
        #expect(value.nested == EdgeKinds.Nested(level: 2, inner: .init(flag: true, side: .sell)))
        #expect(value.fills == [.init(qty: 1, note: nil), .init(qty: 2)])
        #expect(value.matrix == [[1.5, nil], []])
        #expect(value.tags == ["a": "b"] && value.details == ["k": [true]])
        #expect(value.side == .partialFill && value.level == 2 && value.string == .b)
        #expect(value.price == EdgeKinds.Money(amount: 1.25, currency: .eur) && value.fee == EdgeKinds.Money(amount: 0.5))
        #expect(value.tree == EdgeKinds.Node(name: "root", children: [["name": "leaf"]]))
        #expect(value.quoteD == "q")

        let encoded = try value.jsonValue()
        var expected = Self.payload.objectValue!
        expected["fills"] = [["qty": 1], ["qty": 2]]
        #expect(encoded == .object(expected))
        #expect(encoded["nullable_required"] == .null)
        #expect(try Self.schema(of: EdgeKinds.self).isValid(encoded))
        #expect(try EdgeKinds(json: encoded) == value)
    }

    @Test("a required member must be there even when it may be null, and enum values and union types not listed are refused")
    func refusals() throws {
        var missing = Self.payload.objectValue!
        missing["nullable_required"] = nil
        let error = try #require(throws: SwitchyardError.self) { try EdgeKinds(json: .object(missing)) }
        #expect(error.details["missing_fields"] == ["nullable_required"])

        var unlisted = Self.payload.objectValue!
        unlisted["side"] = "hold"
        #expect(throws: SwitchyardError.self) { try EdgeKinds(json: .object(unlisted)) }

        var mistyped = Self.payload.objectValue!
        mistyped["mixed"] = [1]
        let mixed = try #require(throws: SwitchyardError.self) { try EdgeKinds(json: .object(mistyped)) }
        #expect(mixed.details["invalid_fields"]?["mixed"] != nil)
    }

    @Test("a union takes each of its types, in the JSON type it came in")
    func union() throws {
        for (json, expected) in [("\"s\"", EdgeKinds.Mixed.string("s")), ("1.5", .number(1.5)), ("true", .boolean(true))] {
            var payload = Self.payload.objectValue!
            payload["mixed"] = try JSONValue(parsing: json)
            let value = try EdgeKinds(json: .object(payload))
            #expect(value.mixed == expected)
            #expect(try value.jsonValue()["mixed"] == JSONValue(parsing: json))
        }
    }

    @Test("members left out are nil, and a value built with the initializer encodes only what it was given")
    func initializer() throws {
        let value = EdgeKinds(class: "c", nullableRequired: 4, nested: .init(level: 1), side: .default)
        #expect(try value.jsonValue() == ["class": "c", "nullable_required": 4, "nested": ["level": 1], "side": "default"])
        #expect(try Self.schema(of: EdgeKinds.self).isValid(value.jsonValue()))
        #expect(EdgeKinds.Side.allCases.map(\.rawValue) == ["buy", "partial_fill", "price.updated", "2x", "default", "Buy"])
        #expect(EdgeKinds.Side.allCases == [.buy, .partialFill, .priceUpdated, ._2x, .default, .buy2])
        #expect(EdgeKinds.Money.Currency.allCases == [.usd, .eur])
    }

    @Test("a schema without properties, or one made of allOf, keeps the whole payload as a JSON object")
    func opaque() throws {
        let payload: JSONValue = ["k": [1, ["deep": nil]], "n": 2.5]
        let value = try EdgeOpaque(json: payload)
        #expect(value.members == ["k": [1, ["deep": nil]], "n": 2.5])
        #expect(try value.jsonValue() == payload)
        #expect(try EdgeCombined(json: ["a": 1]).members == ["a": 1])
        #expect(throws: SwitchyardError.self) { try EdgeOpaque(json: [1, 2]) }
    }

    @Test("names, conformances and the catalog follow the contracts")
    func catalog() throws {
        #expect(GeneratedContractPayloads.all.map { $0.contractChannel } == [
            "edge.*", "edge:combined", "edge:kinds", "edge:opaque", "string", "system.health", "system:health",
        ])
        #expect(EdgeKinds.contractVersion == 3 && EdgeKinds.contractID == "edge:kinds@3")
        #expect(try EdgeKinds.channelName().rawValue == "edge:kinds")
        #expect(!((Edge.self as Any.Type) is any ChannelPayload.Type))
        try Edge.checkCovers(ChannelName("edge.a.b"))
        #expect(throws: SwitchyardError.self) { try Edge.checkCovers(ChannelName("edge:a")) }
        #expect(SystemHealthOPA.contractChannel == "system.health" && SystemHealthRECIO.contractChannel == "system:health")
        #expect(StringPayload(s: "x").s == "x")
    }
}
