import Foundation
import Testing

@testable import JSONSchema

/// Seeded fuzzing of the parser, writer and validator: mutated and random documents must either
/// parse or fail with a `JSONParseError`, never crash or hang; whatever parses must survive a
/// write/parse round trip unchanged and validate without trapping. `SWITCHYARD_FUZZ_SCALE` and
/// `SWITCHYARD_FUZZ_SEED` make the long run (docs/testing.md).
@Suite struct JSONFuzzTests {
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let seeds: [String] = [
        #"{"ticker":"AAPL","timestamp":"2026-01-27T10:30:05.123Z","price":189.53,"volume":51234567,"source":"polygon"}"#,
        #"[1,-0.5e10,true,false,null,"\u00e9\ud83d\ude00\n",{"a":[{}],"b":{"c":[]}}]"#,
        #"{"order_id":"ord_123456","fill_id":"fill_789","filled_quantity":10,"filled_price":0.65,"commission":0.10}"#,
        "123456789012345678901234567890",
    ]
    static let alphabet = Array(#"{}[]":,.-+eE0123456789tfnrul\"\/ bx"#.utf8) + [0x00, 0x0A, 0x7F, 0x80, 0xC3, 0xA9, 0xED, 0xA0, 0xF0, 0x9F, 0xFF]

    static let schema = try! CompiledSchema(compiling: try! JSONValue(parsing: #"""
        {"type": ["object", "array", "number", "string", "boolean", "null"],
         "properties": {"ticker": {"type": "string", "pattern": "^[A-Z]{1,5}$"}, "price": {"type": "number", "minimum": 0}},
         "items": {"anyOf": [{"type": "integer", "multipleOf": 3}, {"type": "object", "required": ["a"]}, {"not": {"type": "null"}}]},
         "uniqueItems": true, "additionalProperties": {"type": ["string", "number", "object", "array", "null", "boolean"], "maxLength": 40}}
        """#))

    @Test func mutatedAndRandomDocumentsNeverCrash() async {
        var random = Generator(state: UInt64(ProcessInfo.processInfo.environment["SWITCHYARD_FUZZ_SEED"] ?? "") ?? 0x5EED_CAFE)
        let rounds = 200_000 * (Int(ProcessInfo.processInfo.environment["SWITCHYARD_FUZZ_SCALE"] ?? "") ?? 1)
        var parsed = 0
        var refused = 0
        for round in 0..<rounds {
            if round % 2048 == 0 { await Task.yield() }
            var bytes: [UInt8]
            if round % 4 == 3 {
                bytes = (0..<Int.random(in: 0...40, using: &random)).map { _ in Self.alphabet.randomElement(using: &random)! }
            } else {
                bytes = Array(Self.seeds[round % Self.seeds.count].utf8)
                for _ in 0..<Int.random(in: 1...4, using: &random) {
                    let position = Int.random(in: 0...bytes.count, using: &random)
                    switch Int.random(in: 0..<4, using: &random) {
                    case 0 where position < bytes.count: bytes[position] = Self.alphabet.randomElement(using: &random)!
                    case 1: bytes.insert(Self.alphabet.randomElement(using: &random)!, at: position)
                    case 2 where position < bytes.count: bytes.remove(at: position)
                    default: bytes = Array(bytes[..<position])
                    }
                }
            }
            do {
                let value = try JSONValue(parsing: bytes)
                parsed += 1
                let text = value.serialized()
                #expect(value.serializedByteCount == text.utf8.count)
                #expect(try JSONValue(parsing: text).isStrictlyEqual(to: value))
                _ = Self.schema.validate(value)
            } catch {
                refused += 1
                #expect(error.offset >= 0 && error.offset <= bytes.count)
            }
        }
        #expect(parsed > 1_000)
        #expect(refused > 1_000)
    }
}
