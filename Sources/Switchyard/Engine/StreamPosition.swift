/// A place in a channel's stream, as the engine writes it.
///
/// Positions are opaque: only the engine that made one reads it. The embedded engine and the
/// Redis engine write stream ids (`1769509805123-0`); a Kafka engine would write offsets.
/// Callers keep positions and hand them back (to ack, to read after, to carry a claim cursor),
/// and never compare or parse them.
public struct StreamPosition: Sendable, Hashable, CustomStringConvertible {
    private enum Storage: Sendable {
        case text(String)
        case streamID(milliseconds: Int64, counter: UInt64)
    }

    private let storage: Storage

    /// Wraps an engine's position text.
    public init(_ rawValue: String) {
        storage = .text(rawValue)
    }

    /// A stream id `<milliseconds>-<counter>`, written out only when its text is asked for.
    public init(milliseconds: Int64, counter: UInt64) {
        storage = .streamID(milliseconds: milliseconds, counter: counter)
    }

    /// The engine's text for the position.
    public var rawValue: String {
        switch storage {
        case .text(let text): text
        case .streamID(let milliseconds, let counter): "\(milliseconds)-\(counter)"
        }
    }

    /// The position before every entry: where a read or a claim cursor starts.
    public static let start = StreamPosition(milliseconds: 0, counter: 0)

    /// The wire name.
    public var description: String { rawValue }

    /// The two numbers of a stream id made with ``init(milliseconds:counter:)``; `nil` for text.
    public var streamID: (milliseconds: Int64, counter: UInt64)? {
        if case .streamID(let milliseconds, let counter) = storage { return (milliseconds, counter) }
        return nil
    }

    /// Positions are equal when their texts are.
    public static func == (lhs: StreamPosition, rhs: StreamPosition) -> Bool {
        if case .streamID(let a, let b) = lhs.storage, case .streamID(let c, let d) = rhs.storage {
            return a == c && b == d
        }
        return lhs.rawValue == rhs.rawValue
    }

    /// Hashes the text.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(rawValue)
    }
}
