/// Where a read of one channel's stream starts.
public enum ReadStart: Sendable, Hashable {
    /// At the oldest entry retained.
    case beginning
    /// At the first entry after this position.
    case after(StreamPosition)
    /// At the first entry whose sequence number is at least this.
    case sequence(Int64)
    /// At the first entry stored at or after this time.
    case time(Timestamp)
}

/// An event as stored: its envelope and its position in the channel's stream.
public struct StoredEvent: Sendable, Hashable {
    /// Where the event is in its channel's stream.
    public let position: StreamPosition
    /// The event.
    public let envelope: Envelope

    /// Pairs a position and an envelope.
    public init(position: StreamPosition, envelope: Envelope) {
        self.position = position
        self.envelope = envelope
    }
}
