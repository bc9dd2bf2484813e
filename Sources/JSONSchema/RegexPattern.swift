import Foundation

/// A compiled ECMA-262 regular expression as JSON Schema's `pattern` and `format: regex` use it.
///
/// Patterns in the common subset run on ``SimplePattern``; the rest are translated to ICU syntax
/// (ASCII `\d \w`, ECMA-262 `\s`, `$` as end of input, `.` excluding line terminators, `[^]`, `[]`)
/// and run by `NSRegularExpression`.
final class RegexPattern: Sendable {
    private enum Engine: Sendable {
        case simple(SimplePattern)
        case expression(NSRegularExpression)
    }

    /// The pattern as written in the schema.
    let source: String
    private let engine: Engine

    /// Compiles `source`, returning `nil` when it is not a valid ECMA-262 pattern that ICU can run.
    init?(_ source: String) {
        self.source = source
        if let simple = SimplePattern(source) {
            engine = .simple(simple)
            return
        }
        guard let translated = Self.translate(source),
            let expression = try? NSRegularExpression(pattern: translated)
        else { return nil }
        engine = .expression(expression)
    }

    /// Whether the pattern matches anywhere in `text` (patterns are not implicitly anchored).
    func matches(_ text: String) -> Bool {
        switch engine {
        case .simple(let simple):
            return simple.matches(text)
        case .expression(let expression):
            let range = NSRange(location: 0, length: text.utf16.count)
            return expression.firstMatch(in: text, options: [], range: range) != nil
        }
    }

    private static let whitespaceClass = #"\t\n\x{0B}\f\r \x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{FEFF}"#

    /// Rewrites ECMA-262 syntax into ICU syntax with the same meaning, or `nil` for syntax that
    /// ECMA-262 does not allow (inline flags, Python groups, comments, undefined letter escapes).
    static func translate(_ source: String) -> String? {
        var output = ""
        var scalars = Array(source.unicodeScalars)[...]
        var inClass = false
        while let scalar = scalars.popFirst() {
            switch scalar {
            case "\\":
                guard let escaped = scalars.popFirst() else { return nil }
                guard let replacement = translateEscape(escaped, inClass: inClass) else { return nil }
                output += replacement
            case "[" where !inClass:
                if scalars.first == "]" {
                    scalars.removeFirst()
                    output += "(?!)"
                } else if scalars.starts(with: ["^", "]"]) {
                    scalars.removeFirst(2)
                    output += #"[\x{0}-\x{10FFFF}]"#
                } else {
                    inClass = true
                    output += "["
                    if scalars.first == "^" { output += "^"; scalars.removeFirst() }
                    if scalars.first == "]" { output += #"\]"#; scalars.removeFirst() }
                }
            case "[":
                output += #"\["#
            case "]" where inClass:
                inClass = false
                output += "]"
            case "$" where !inClass:
                output += #"\z"#
            case "." where !inClass:
                output += #"[^\n\r\x{2028}\x{2029}]"#
            case "(" where !inClass && scalars.first == "?":
                let next = scalars.dropFirst().prefix(2)
                let allowed = next.first == ":" || next.first == "=" || next.first == "!"
                    || next.elementsEqual(["<", "="]) || next.elementsEqual(["<", "!"])
                    || (next.first == "<" && next.dropFirst().first.map { $0.properties.isAlphabetic } == true)
                guard allowed else { return nil }
                output += "("
            default:
                output.unicodeScalars.append(scalar)
            }
        }
        return inClass ? nil : output
    }

    private static func translateEscape(_ escaped: Unicode.Scalar, inClass: Bool) -> String? {
        switch escaped {
        case "d": inClass ? "0-9" : "[0-9]"
        case "D": "[^0-9]"
        case "w": inClass ? "A-Za-z0-9_" : "[A-Za-z0-9_]"
        case "W": "[^A-Za-z0-9_]"
        case "s": inClass ? whitespaceClass : "[\(whitespaceClass)]"
        case "S": "[^\(whitespaceClass)]"
        case "v": #"\x{0B}"#
        case "b", "B", "f", "n", "r", "t", "c", "k", "p", "P", "u", "x", "0"..."9":
            "\\" + String(escaped)
        default:
            escaped.properties.isAlphabetic ? nil : "\\" + String(escaped)
        }
    }
}
