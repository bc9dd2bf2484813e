import JSONSchema

/// The canonical JSON text of a value, which signatures are computed over (docs/security.md
/// defines it for other languages).
///
/// - no whitespace;
/// - object members sorted by the UTF-8 bytes of their names; arrays in order;
/// - strings as the envelope writes them: `"` and `\` escaped with a backslash, the control
///   characters U+0008, U+0009, U+000A, U+000C, U+000D as `\b \t \n \f \r`, the other ones below
///   U+0020 as `\u00xx` (lowercase hex), every other character as its UTF-8 bytes;
/// - numbers by value: an integer, or a double whose value is integral and within ±2^63, as decimal
///   digits (`2.0` and `2` are both `2`); any other double in the shortest form that reads back
///   to the same double, as Swift's `description` and Python's `repr` write it (`0.65`, `1e-05`,
///   `1.5e+16`);
/// - `true`, `false`, `null`.
///
/// So a value that went through any JSON writer and parser that keeps doubles exact (PostgreSQL
/// `jsonb`, redis-py, Python's `json`) has the same canonical text as before.
public enum CanonicalJSON {
    /// The canonical text of `value`, as UTF-8 bytes.
    public static func bytes(_ value: JSONValue) -> [UInt8] {
        var bytes: [UInt8] = []
        write(value, into: &bytes)
        return bytes
    }

    /// Appends the canonical text of `value` to `bytes`.
    public static func write(_ value: JSONValue, into bytes: inout [UInt8]) {
        switch value {
        case .null, .bool, .string:
            value.write(into: &bytes)
        case .int(let number):
            bytes.append(contentsOf: String(number).utf8)
        case .double(let number):
            if number.isFinite, number.rounded(.towardZero) == number, abs(number) < 9.223372036854775808e18 {
                bytes.append(contentsOf: String(Int64(number)).utf8)
            } else {
                value.write(into: &bytes)
            }
        case .array(let elements):
            bytes.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                write(element, into: &bytes)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let object):
            bytes.append(UInt8(ascii: "{"))
            let members = object.members.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
            for (index, member) in members.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                JSONValue.string(member.key).write(into: &bytes)
                bytes.append(UInt8(ascii: ":"))
                write(member.value, into: &bytes)
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }
}
