/// What a publish returns: the stored event's identity and position.
public struct PublishReceipt: Sendable, Hashable {
    /// What became of a publish.
    public enum Status: String, Sendable, Hashable {
        /// Stored now, with its sequence number.
        case stored
        /// The event id had already been published within the dedup window: the receipt is the
        /// first publish's, and nothing new was stored.
        case duplicate
        /// Kept in the engine's local spool while the engine is unreachable: it gets its sequence
        /// number and stream position when it is stored, in order, on recovery.
        case spooled
    }

    /// The event's identifier.
    public let eventID: EventID
    /// The channel it was published to.
    public let channel: ChannelName
    /// What became of the publish.
    public let status: Status
    /// Its gap-free number in the channel; `nil` while it is ``Status/spooled``.
    public let sequenceNumber: Int64?
    /// Its position in the channel's stream (opaque, engine-specific); ``StreamPosition/spooled``
    /// while it is spooled.
    public let streamID: StreamPosition
    /// When it was accepted.
    public let timestamp: Timestamp

    /// Creates the receipt of a stored event, or with `duplicate` of a publish whose event id was
    /// already stored (then `sequenceNumber` and `streamID` are the first publish's).
    public init(
        eventID: EventID, channel: ChannelName, sequenceNumber: Int64, streamID: StreamPosition,
        timestamp: Timestamp, duplicate: Bool = false
    ) {
        self.eventID = eventID
        self.channel = channel
        self.status = duplicate ? .duplicate : .stored
        self.sequenceNumber = sequenceNumber
        self.streamID = streamID
        self.timestamp = timestamp
    }

    private init(spooled eventID: EventID, channel: ChannelName, timestamp: Timestamp) {
        self.eventID = eventID
        self.channel = channel
        self.status = .spooled
        self.sequenceNumber = nil
        self.streamID = .spooled
        self.timestamp = timestamp
    }

    /// The receipt of a publish an engine keeps in its local spool: no sequence number yet.
    public static func spooled(eventID: EventID, channel: ChannelName, timestamp: Timestamp) -> PublishReceipt {
        PublishReceipt(spooled: eventID, channel: channel, timestamp: timestamp)
    }

    /// Whether the event id had already been published (``Status/duplicate``).
    public var duplicate: Bool { status == .duplicate }

    /// Whether the event waits in the engine's local spool (answered 202 by the gateway), rather
    /// than being stored.
    public var isSpooled: Bool { status == .spooled }

    /// The same receipt, marked as the answer to a duplicate publish.
    public func markedDuplicate() -> PublishReceipt {
        guard let sequenceNumber else { return self }
        return PublishReceipt(
            eventID: eventID, channel: channel, sequenceNumber: sequenceNumber, streamID: streamID,
            timestamp: timestamp, duplicate: true)
    }
}
