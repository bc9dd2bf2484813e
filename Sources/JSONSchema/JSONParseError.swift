/// An error thrown when bytes are not a single well-formed JSON text (RFC 8259).
///
/// The description names the problem and the byte offset; it never includes the input,
/// so it is safe to log for payloads that may carry sensitive data.
public struct JSONParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of problem the parser found.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let name: String

        private init(_ name: String) { self.name = name }

        /// The input ended inside a value, or contained no value at all.
        public static let unexpectedEnd = Code("unexpected end of input")
        /// A byte that cannot start or continue a value at this point.
        public static let unexpectedByte = Code("unexpected byte")
        /// A string contains bytes that are not valid UTF-8.
        public static let invalidUTF8 = Code("invalid UTF-8")
        /// A string contains an unescaped control character (U+0000 to U+001F).
        public static let controlCharacterInString = Code("unescaped control character in string")
        /// A backslash escape that JSON does not define, or a malformed `\u` escape.
        public static let invalidEscape = Code("invalid escape sequence")
        /// A `\u` escape of a UTF-16 surrogate without its other half.
        public static let loneSurrogate = Code("unpaired UTF-16 surrogate escape")
        /// A number that does not follow the JSON grammar (leading zeros, `NaN`, a bare `.`...).
        public static let invalidNumber = Code("invalid number")
        /// A number too large in magnitude for a `Double`.
        public static let numberOutOfRange = Code("number out of range")
        /// Arrays and objects nested deeper than the configured limit.
        public static let nestingTooDeep = Code("nesting too deep")
        /// Non-whitespace bytes after the end of the value.
        public static let trailingData = Code("unexpected data after the value")

        public var description: String { name }
    }

    /// What kind of problem the parser found.
    public var code: Code
    /// The offset, in bytes from the start of the input, where the problem was found.
    public var offset: Int

    /// An error of this kind at this byte offset.
    public init(_ code: Code, offset: Int) {
        self.code = code
        self.offset = offset
    }

    public var description: String { "invalid JSON: \(code) at byte \(offset)" }
}
