/// Bytes that do not follow the Redis serialization protocol.
///
/// A connection that meets one cannot tell where the next reply starts, so it closes and fails
/// every pending command with this error. The description names the problem and the byte offset,
/// never the bytes themselves.
public struct RESPProtocolError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was wrong with the bytes.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case invalidTypeMarker, invalidInteger, invalidLength, invalidDouble, invalidBoolean
            case invalidBigNumber, invalidVerbatimString, missingLineTerminator, lineTooLong
            case depthExceeded, unsupportedStreamedValue
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A value starts with a byte that is not a RESP type marker.
        public static let invalidTypeMarker = Code(.invalidTypeMarker)
        /// An integer or a length is not a valid decimal number.
        public static let invalidInteger = Code(.invalidInteger)
        /// A length is negative (other than a RESP2 null) or beyond the configured maximum.
        public static let invalidLength = Code(.invalidLength)
        /// A double is not a valid number.
        public static let invalidDouble = Code(.invalidDouble)
        /// A boolean is neither `t` nor `f`.
        public static let invalidBoolean = Code(.invalidBoolean)
        /// A big number holds something other than decimal digits.
        public static let invalidBigNumber = Code(.invalidBigNumber)
        /// A verbatim string lacks its `fmt:` prefix.
        public static let invalidVerbatimString = Code(.invalidVerbatimString)
        /// A blob is not followed by `\r\n`, or a line holds a bare `\r`.
        public static let missingLineTerminator = Code(.missingLineTerminator)
        /// A line is longer than the configured maximum without a terminator.
        public static let lineTooLong = Code(.lineTooLong)
        /// Aggregates are nested deeper than the configured maximum.
        public static let depthExceeded = Code(.depthExceeded)
        /// A streamed string or aggregate (`$?`, `*?`), which Redis never sends to clients.
        public static let unsupportedStreamedValue = Code(.unsupportedStreamedValue)

        /// The code's name.
        public var description: String { self.base.rawValue }
    }

    /// What was wrong.
    public var code: Code
    /// The offset, from the start of the value being decoded, of the byte that was wrong.
    public var offset: Int

    /// Creates an error.
    public init(code: Code, offset: Int) {
        self.code = code
        self.offset = offset
    }

    /// The code and the offset.
    public var description: String { "RESPProtocolError(\(self.code), offset: \(self.offset))" }
}
