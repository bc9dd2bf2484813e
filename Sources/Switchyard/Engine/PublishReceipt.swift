/// What an accepted publish returns: where the event now is.
public struct PublishReceipt: Sendable, Hashable {
    /// The event's identifier.
    public let eventID: EventID
    /// The channel it was published to.
    public let channel: ChannelName
    /// Its gap-free number in the channel.
    public let sequenceNumber: Int64
    /// Its position in the channel's stream (opaque, engine-specific).
    public let streamID: StreamPosition
    /// When it was accepted.
    public let timestamp: Timestamp
    /// Whether the event id had already been published within the dedup window; the receipt is
    /// then the first publish's, and nothing new was stored.
    public let duplicate: Bool

    /// Creates a receipt.
    public init(
        eventID: EventID, channel: ChannelName, sequenceNumber: Int64, streamID: StreamPosition,
        timestamp: Timestamp, duplicate: Bool = false
    ) {
        self.eventID = eventID
        self.channel = channel
        self.sequenceNumber = sequenceNumber
        self.streamID = streamID
        self.timestamp = timestamp
        self.duplicate = duplicate
    }

    /// The same receipt, marked as the answer to a duplicate publish.
    public func markedDuplicate() -> PublishReceipt {
        PublishReceipt(
            eventID: eventID, channel: channel, sequenceNumber: sequenceNumber, streamID: streamID,
            timestamp: timestamp, duplicate: true)
    }
}
