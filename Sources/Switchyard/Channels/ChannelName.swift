/// The name of a channel: segments of `[A-Za-z0-9_-]` joined by `:` or `.`.
///
/// `market_data:btc_price`, `quotes.realtime`, `price.updated.AAPL` and `trades:user_0001` are
/// channel names; an empty segment (`a::b`, `.a`, `a.`) or any other character is refused.
public struct ChannelName: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The longest name accepted, in bytes.
    public static let maximumLength = 256

    /// The name as written.
    public let rawValue: String

    /// Checks `rawValue` and wraps it.
    /// - Throws: ``SwitchyardError`` with code ``SwitchyardError/Code/invalidChannel`` when it is not a channel name.
    public init(_ rawValue: String) throws(SwitchyardError) {
        guard let reason = Self.problem(in: rawValue) else {
            self.rawValue = rawValue
            return
        }
        throw SwitchyardError(.invalidChannel, "invalid channel name '\(rawValue.prefix(80))': \(reason)")
    }

    /// Whether `name` is a valid channel name.
    public static func isValid(_ name: String) -> Bool {
        problem(in: name) == nil
    }

    /// Why `name` is not a channel name, or `nil` when it is one.
    static func problem(in name: String) -> String? {
        let bytes = name.utf8
        if bytes.isEmpty { return "it is empty" }
        if bytes.count > maximumLength { return "it is longer than \(maximumLength) bytes" }
        var segmentLength = 0
        for byte in bytes {
            if isSegmentByte(byte) {
                segmentLength += 1
            } else if byte == UInt8(ascii: ":") || byte == UInt8(ascii: ".") {
                if segmentLength == 0 { return "it has an empty segment" }
                segmentLength = 0
            } else {
                return "only letters, digits, '_' and '-' joined by ':' or '.' are allowed"
            }
        }
        return segmentLength == 0 ? "it has an empty segment" : nil
    }

    static func isSegmentByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        default:
            false
        }
    }

    public var description: String { rawValue }

    public static func < (lhs: ChannelName, rhs: ChannelName) -> Bool {
        lhs.rawValue < rhs.rawValue
    }
}
