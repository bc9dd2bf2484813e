import Foundation
import JSONSchema
import Switchyard

/// A value written into SQL text as a literal with its type: `NULL`, `true`, `'42'::int8`,
/// `E'O''Brien'::text`, `E'{"n":1}'::jsonb`.
///
/// Text is written as an escape string constant (`E'…'`), which PostgreSQL reads the same way
/// whatever `standard_conforming_strings` says: every `'` is doubled and every `\` is doubled, so
/// the literal ends exactly where it should and the server reads back the value given here. A
/// NUL character, which PostgreSQL text cannot hold, makes the literal invalid, and an
/// ``OutboxStatement`` holding an invalid literal is refused before anything is sent.
public struct SQLLiteral: Sendable, Hashable, CustomStringConvertible {
    /// The SQL text, or `nil` when the value cannot be written as a literal.
    let text: String?
    /// Why the value cannot be written, for the error.
    let problem: String?

    private init(text: String?, problem: String?) {
        self.text = text
        self.problem = problem
    }

    /// The SQL `NULL`.
    public static let null = SQLLiteral(text: "NULL", problem: nil)

    /// A boolean: `true` or `false`.
    public static func bool(_ value: Bool) -> SQLLiteral {
        SQLLiteral(text: value ? "true" : "false", problem: nil)
    }

    /// Text, as `E'…'::text`; invalid when it contains a NUL character.
    public static func text(_ value: some StringProtocol) -> SQLLiteral {
        typed(value, as: "text")
    }

    /// Text read as `type`: `E'…'::type`, so `typed("2026-01-27T10:00:00Z", as: "timestamptz")`.
    /// - Parameters:
    ///   - value: The value's text form, as PostgreSQL reads it for that type.
    ///   - type: A type name of letters, digits, `_`, `.`, spaces and `[]` (`int8`, `numeric(18,6)` is not one:
    ///     cast in the statement instead); anything else makes the literal invalid.
    public static func typed(_ value: some StringProtocol, as type: String) -> SQLLiteral {
        guard Self.isTypeName(type) else {
            return SQLLiteral(text: nil, problem: "the type name is not a plain type name")
        }
        guard let quoted = quoted(value) else {
            return SQLLiteral(text: nil, problem: "the text contains a NUL character, which PostgreSQL text cannot hold")
        }
        return SQLLiteral(text: "\(quoted)::\(type)", problem: nil)
    }

    /// `E'…'` for `value`: `'` and `\` doubled; `nil` when it contains NUL.
    static func quoted(_ value: some StringProtocol) -> String? {
        let utf8 = value.utf8
        // `'`, `\` and NUL are single bytes in UTF-8 and never part of a longer character.
        guard utf8.contains(where: { $0 == UInt8(ascii: "'") || $0 == UInt8(ascii: "\\") || $0 == 0 }) else {
            return "E'" + value + "'"
        }
        var bytes: [UInt8] = [UInt8(ascii: "E"), UInt8(ascii: "'")]
        bytes.reserveCapacity(utf8.count + 8)
        for byte in utf8 {
            switch byte {
            case 0: return nil
            case UInt8(ascii: "'"), UInt8(ascii: "\\"): bytes += [byte, byte]
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "'"))
        return String(decoding: bytes, as: UTF8.self)
    }

    static func isTypeName(_ type: String) -> Bool {
        !type.isEmpty && type.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: " "), UInt8(ascii: "["), UInt8(ascii: "]"):
                true
            default: false
            }
        }
    }

    /// The SQL text, or a note that the value cannot be written.
    public var description: String { text ?? "<invalid literal: \(problem ?? "")>" }
}

/// A value an ``OutboxStatement`` can write into its SQL as a literal.
public protocol SQLLiteralRepresentable {
    /// The value as a typed SQL literal.
    var sqlLiteral: SQLLiteral { get }
}

extension SQLLiteral: SQLLiteralRepresentable {
    public var sqlLiteral: SQLLiteral { self }
}

extension String: SQLLiteralRepresentable {
    /// `E'…'::text`.
    public var sqlLiteral: SQLLiteral { .text(self) }
}

extension Substring: SQLLiteralRepresentable {
    /// `E'…'::text`.
    public var sqlLiteral: SQLLiteral { .text(self) }
}

extension Bool: SQLLiteralRepresentable {
    /// `true` or `false`.
    public var sqlLiteral: SQLLiteral { .bool(self) }
}

extension Int: SQLLiteralRepresentable {
    /// `'…'::int8`.
    public var sqlLiteral: SQLLiteral { .typed(String(self), as: "int8") }
}

extension Int64: SQLLiteralRepresentable {
    /// `'…'::int8`.
    public var sqlLiteral: SQLLiteral { .typed(String(self), as: "int8") }
}

extension Int32: SQLLiteralRepresentable {
    /// `'…'::int4`.
    public var sqlLiteral: SQLLiteral { .typed(String(self), as: "int4") }
}

extension Int16: SQLLiteralRepresentable {
    /// `'…'::int2`.
    public var sqlLiteral: SQLLiteral { .typed(String(self), as: "int2") }
}

extension Double: SQLLiteralRepresentable {
    /// `'…'::float8`, with `NaN`, `Infinity` and `-Infinity` for the values that are not finite; the
    /// text is the shortest that reads back as the same `Double`.
    public var sqlLiteral: SQLLiteral {
        if isNaN { return .typed("NaN", as: "float8") }
        if isInfinite { return .typed(self < 0 ? "-Infinity" : "Infinity", as: "float8") }
        return .typed(description, as: "float8")
    }
}

extension Float: SQLLiteralRepresentable {
    /// `'…'::float4`, as for `Double`.
    public var sqlLiteral: SQLLiteral {
        if isNaN { return .typed("NaN", as: "float4") }
        if isInfinite { return .typed(self < 0 ? "-Infinity" : "Infinity", as: "float4") }
        return .typed(description, as: "float4")
    }
}

extension Decimal: SQLLiteralRepresentable {
    /// `'…'::numeric` (`NaN` for a `Decimal` that is not a number).
    public var sqlLiteral: SQLLiteral { .typed(isNaN ? "NaN" : description, as: "numeric") }
}

extension UUID: SQLLiteralRepresentable {
    /// `'…'::uuid`.
    public var sqlLiteral: SQLLiteral { .typed(uuidString.lowercased(), as: "uuid") }
}

extension EventID: SQLLiteralRepresentable {
    /// `'…'::uuid`.
    public var sqlLiteral: SQLLiteral { .typed(description, as: "uuid") }
}

extension Date: SQLLiteralRepresentable {
    /// `'…'::timestamptz`: the UTC time with microseconds (PostgreSQL's precision) and an explicit
    /// `+00` offset, so neither the session's `TimeZone` nor its `DateStyle` changes what it reads.
    public var sqlLiteral: SQLLiteral {
        let seconds = timeIntervalSince1970
        guard seconds.isFinite else { return .typed(seconds < 0 ? "-infinity" : "infinity", as: "timestamptz") }
        var whole = seconds.rounded(.down)
        var micros = Int(((seconds - whole) * 1_000_000).rounded())
        if micros >= 1_000_000 {
            whole += 1
            micros -= 1_000_000
        }
        let parts = SQLLiteral.utc.dateComponents([.era, .year, .month, .day, .hour, .minute, .second], from: Date(timeIntervalSince1970: whole))
        func padded(_ value: Int?, _ width: Int) -> String {
            let digits = String(value ?? 0)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        let text = "\(padded(parts.year, 4))-\(padded(parts.month, 2))-\(padded(parts.day, 2)) "
            + "\(padded(parts.hour, 2)):\(padded(parts.minute, 2)):\(padded(parts.second, 2)).\(padded(micros, 6))+00"
            + (parts.era == 0 ? " BC" : "")
        return .typed(text, as: "timestamptz")
    }
}

extension SQLLiteral {
    static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()
}

extension JSONValue: SQLLiteralRepresentable {
    /// `E'…'::jsonb`, the value's JSON text.
    public var sqlLiteral: SQLLiteral { .typed(serialized(), as: "jsonb") }
}

extension Optional: SQLLiteralRepresentable where Wrapped: SQLLiteralRepresentable {
    /// The wrapped value's literal, or `NULL`.
    public var sqlLiteral: SQLLiteral {
        switch self {
        case .none: .null
        case .some(let value): value.sqlLiteral
        }
    }
}

extension Array: SQLLiteralRepresentable where Element: SQLLiteralRepresentable {
    /// `ARRAY[…]`, each element's literal; an empty array is `'{}'`, which takes its type from the
    /// statement (cast it there when it cannot, `\(ids)::int8[]`).
    public var sqlLiteral: SQLLiteral {
        if isEmpty { return SQLLiteral(rendered: "'{}'") }
        var parts: [String] = []
        parts.reserveCapacity(count)
        for element in self {
            let literal = element.sqlLiteral
            guard let text = literal.text else { return literal }
            parts.append(text)
        }
        return SQLLiteral(rendered: "ARRAY[\(parts.joined(separator: ", "))]")
    }
}

extension SQLLiteral {
    /// SQL text built here from other literals or fixed text.
    init(rendered: String) {
        self.init(text: rendered, problem: nil)
    }
}
