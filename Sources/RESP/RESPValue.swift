import NIOCore

/// One value of the Redis serialization protocol, RESP2 or RESP3.
///
/// String payloads stay `ByteBuffer` slices of the received bytes, so decoding does not copy them.
public enum RESPValue: Sendable, Hashable {
    /// A simple string (`+OK`).
    case simpleString(ByteBuffer)
    /// A blob (bulk) string (`$5\r\nhello`).
    case blobString(ByteBuffer)
    /// A simple error (`-ERR message`).
    case simpleError(ByteBuffer)
    /// A blob error (`!len\r\n...`).
    case blobError(ByteBuffer)
    /// A verbatim string with its three-letter format, such as `txt` or `mkd` (`=len\r\nfmt:...`).
    case verbatimString(format: String, ByteBuffer)
    /// A signed 64-bit integer (`:42`).
    case integer(Int64)
    /// A double (`,3.14`, `,inf`, `,nan`).
    case double(Double)
    /// A big number, kept as its decimal digits (`(1234567890123456789012`).
    case bigNumber(String)
    /// A boolean (`#t`, `#f`).
    case boolean(Bool)
    /// A null: RESP3 `_`, or RESP2 `$-1` and `*-1`.
    case null
    /// An array (`*N`).
    case array([RESPValue])
    /// A map (`%N`), its pairs in the order received.
    case map([Pair])
    /// A set (`~N`), its members in the order received.
    case set([RESPValue])
    /// An out-of-band push (`>N`), such as a pub/sub message.
    case push([RESPValue])
    /// Attributes (`|N`) attached to the value that follows them.
    indirect case attribute([Pair], RESPValue)

    /// A key and its value inside a map or an attribute.
    public struct Pair: Sendable, Hashable {
        /// The key.
        public var key: RESPValue
        /// The value.
        public var value: RESPValue

        /// Creates a pair.
        public init(key: RESPValue, value: RESPValue) {
            self.key = key
            self.value = value
        }
    }
}

extension RESPValue {
    /// Creates a blob string value from a Swift string.
    public static func blobString(_ string: String) -> RESPValue {
        .blobString(ByteBuffer(string: string))
    }

    /// Creates a simple string value from a Swift string.
    public static func simpleString(_ string: String) -> RESPValue {
        .simpleString(ByteBuffer(string: string))
    }

    /// Creates a simple error value from a Swift string.
    public static func simpleError(_ string: String) -> RESPValue {
        .simpleError(ByteBuffer(string: string))
    }
}
