import Foundation
import JSONSchema
import Testing

@Suite struct JSONParserTests {
    @Test func parsesEveryKindOfValue() throws {
        let value = try JSONValue(parsing: #" {"a": [null, true, false, 0, -12, 1.5, "x"], "b": {}, "c": []} "#)
        #expect(value == ["a": [nil, true, false, 0, -12, 1.5, "x"], "b": [:], "c": []])
        #expect(value.objectValue?.keys == ["a", "b", "c"])
    }

    @Test func numbersKeepIntegerAndDoubleApart() throws {
        #expect(try JSONValue(parsing: "42") == .int(42))
        if case .int = try JSONValue(parsing: "42") {} else { Issue.record("42 must parse as .int") }
        if case .double = try JSONValue(parsing: "42.0") {} else { Issue.record("42.0 must parse as .double") }
        if case .double = try JSONValue(parsing: "1e2") {} else { Issue.record("1e2 must parse as .double") }
        #expect(try JSONValue(parsing: "9223372036854775807") == .int(.max))
        #expect(try JSONValue(parsing: "-9223372036854775808") == .int(.min))
        if case .double(let value) = try JSONValue(parsing: "9223372036854775808") {
            #expect(value == 9_223_372_036_854_775_808)
        } else {
            Issue.record("an integer beyond Int64 must parse as .double")
        }
        #expect(try JSONValue(parsing: "189.52") == .double(189.52))
        #expect(try JSONValue(parsing: "-0.0075") == .double(-0.0075))
        #expect(try JSONValue(parsing: "1.7976931348623157e308") == .double(.greatestFiniteMagnitude))
        #expect(try JSONValue(parsing: "5e-324") == .double(.leastNonzeroMagnitude))
        #expect(try JSONValue(parsing: "0.1000000000000000055511151231257827") == .double(0.1))
    }

    @Test func numberEqualityIgnoresRepresentation() throws {
        #expect(try JSONValue(parsing: "1") == JSONValue(parsing: "1.0"))
        #expect(try JSONValue(parsing: "[1, {\"a\": 2}]") == JSONValue(parsing: "[1.0, {\"a\": 2e0}]"))
        #expect(try JSONValue(parsing: "1") != JSONValue(parsing: "true"))
    }

    @Test func decodesEscapesAndSurrogatePairs() throws {
        let value = try JSONValue(parsing: #""a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00""#)
        #expect(value == .string("a\"b\\c/d\u{8}\u{c}\n\r\té😀"))
        #expect(try JSONValue(parsing: "\"héllo 😀\"") == .string("héllo 😀"))
    }

    @Test func repeatedKeysKeepTheLastValue() throws {
        let value = try JSONValue(parsing: #"{"a": 1, "b": 2, "a": 3}"#)
        #expect(value.objectValue?.keys == ["a", "b"])
        #expect(value["a"] == 3)
    }

    @Test(arguments: [
        ("", JSONParseError.Code.unexpectedEnd),
        ("   ", .unexpectedEnd),
        ("[1, 2", .unexpectedEnd),
        (#"{"a": 1"#, .unexpectedEnd),
        (#""abc"#, .unexpectedEnd),
        ("tru", .unexpectedEnd),
        ("trux", .unexpectedByte),
        ("[1,]", .unexpectedByte),
        (#"{"a" 1}"#, .unexpectedByte),
        ("{'a': 1}", .unexpectedByte),
        ("[1] x", .trailingData),
        ("1 2", .trailingData),
        ("01", .invalidNumber),
        ("-", .unexpectedEnd),
        ("-a", .invalidNumber),
        ("1.", .unexpectedEnd),
        ("1.x", .invalidNumber),
        ("-01", .invalidNumber),
        (".5", .unexpectedByte),
        ("1e", .unexpectedEnd),
        ("1e+]", .invalidNumber),
        ("+1", .unexpectedByte),
        ("NaN", .unexpectedByte),
        ("Infinity", .unexpectedByte),
        ("1e400", .numberOutOfRange),
        (#""\x""#, .invalidEscape),
        (#""\u12G4""#, .invalidEscape),
        (#""\ud800""#, .loneSurrogate),
        (#""\udc00""#, .loneSurrogate),
        (#""\ud800\u0041""#, .loneSurrogate),
        ("\"a\tb\"", .controlCharacterInString),
    ])
    func rejectsMalformedText(text: String, code: JSONParseError.Code) {
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: text) }
        do {
            _ = try JSONValue(parsing: text)
        } catch {
            #expect(error.code == code, "\(text.debugDescription): \(error)")
        }
    }

    @Test(arguments: [
        [0x22, 0xC3, 0x22] as [UInt8],
        [0x22, 0xC0, 0xAF, 0x22],
        [0x22, 0xED, 0xA0, 0x80, 0x22],
        [0x22, 0xF5, 0x80, 0x80, 0x80, 0x22],
        [0x22, 0xE2, 0x28, 0xA1, 0x22],
        [0x22, 0xFF, 0x22],
    ])
    func rejectsInvalidUTF8(bytes: [UInt8]) {
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: bytes) }
    }

    @Test func errorsNameTheOffsetButNotThePayload() {
        do {
            _ = try JSONValue(parsing: #"{"password": "hunter2", }"#)
            Issue.record("a trailing comma must be rejected")
        } catch {
            #expect(error.offset == 24)
            #expect(!error.description.contains("hunter2"))
            #expect(error.description == "invalid JSON: unexpected byte at byte 24")
        }
    }

    @Test func deepNestingFailsInsteadOfCrashing() {
        let bomb = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect {
            try JSONValue(parsing: bomb)
        } throws: { error in
            (error as? JSONParseError)?.code == .nestingTooDeep
        }
        let nested = String(repeating: "[", count: 512) + String(repeating: "]", count: 512)
        #expect(throws: Never.self) { try JSONValue(parsing: nested) }
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: nested, maxDepth: 511) }
    }

    @Test func parsesDataAndByteCollections() throws {
        let text = #"{"symbol":"AAPL","bid":189.52}"#
        let fromData = try JSONValue(parsing: Data(text.utf8))
        let fromBytes = try JSONValue(parsing: Array(text.utf8))
        let fromSlice = try JSONValue(parsing: Array(text.utf8)[...])
        #expect(fromData == fromBytes)
        #expect(fromSlice == fromBytes)
        #expect(fromData["bid"] == 189.52)
    }
}
