import Foundation
import Testing

@testable import JSONSchema

/// The matcher for common patterns against `NSRegularExpression` running the same pattern
/// translated to ICU (the engine for every other pattern): the same answer for every text tried.
@Suite struct SimplePatternTests {
    static let patterns = [
        #"^-?[0-9]+(\.[0-9]+)?$"#, #"^[A-Z]{1,5}$"#, #"^opa-[a-z-]+$"#, #"(ab)?c"#, #"^(?:ab)?c$"#, #"x(\d+)y"#,
        #"^a(b*c)?$"#, #"^(a?)?b$"#, #"^()?x$"#, #"^(\.\d{2})?$"#, #"(é+ü)?z"#, #"^\s*(\w+)?\s*$"#, #"^[^0-9](x)$"#,
    ]

    static func reference(_ pattern: String) throws -> NSRegularExpression {
        try NSRegularExpression(pattern: try #require(RegexPattern.translate(pattern)))
    }

    @Test(arguments: patterns)
    func groupedPatternsRunOnTheSimpleMatcherAndAgreeWithICU(_ pattern: String) throws {
        let simple = try #require(SimplePattern(pattern), "in the simple subset: \(pattern)")
        let icu = try Self.reference(pattern)
        var rng = JSONFuzzTests.Generator(state: pattern.unicodeScalars.reduce(UInt64(0x5EED)) { $0 &* 31 &+ UInt64($1.value) })
        let alphabet: [Character] = ["a", "b", "c", "x", "y", "z", "A", "Q", "0", "5", "9", "-", ".", " ", "\n", "é", "ü", "_", "o", "p"]
        var texts = ["", "0", "-1", "1.5", "-12.25", "1.", ".5", "1.2.3", "AAPL", "AAPLX", "opa-risk-limits", "abc", "c", "ac", "x12y", "b", "x", "é\u{FC}z"]
        for _ in 0..<3_000 {
            texts.append(String((0..<Int.random(in: 0...8, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }))
        }
        for text in texts {
            let expected = icu.firstMatch(in: text, range: NSRange(location: 0, length: text.utf16.count)) != nil
            #expect(simple.matches(text) == expected, "\(pattern) on \(text.debugDescription)")
        }
    }

    @Test(arguments: [#"(a|b)"#, #"(a(b))"#, #"(ab)*"#, #"(ab)+"#, #"(ab){2}"#, #"(ab)??"#, #"(?=a)b"#, #"(?!a)b"#, #"(a"#, #"a)"#, #"(a)\1"#])
    func patternsBeyondTheSubsetGoToICU(_ pattern: String) {
        #expect(SimplePattern(pattern) == nil, "\(pattern)")
    }

    @Test func theShippedDecimalPatternValidatesAsBefore() throws {
        let decimal = try CompiledSchema(compiling: ["type": ["string", "number"], "pattern": #"^-?[0-9]+(\.[0-9]+)?$"#])
        for valid: JSONValue in ["150.255", "-3", "0.5", 150.255] { #expect(decimal.isValid(valid), "\(valid)") }
        for invalid: JSONValue in ["150.", ".5", "1e5", "150.255\n", "1.2.3", ""] { #expect(!decimal.isValid(invalid), "\(invalid)") }
    }
}
