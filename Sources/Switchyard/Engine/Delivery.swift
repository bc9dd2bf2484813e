/// An entry handed to one consumer of a group, pending until it is acked.
public struct Delivery: Sendable, Hashable {
    /// The channel.
    public let channel: ChannelName
    /// The entry's position; hand it back to ack it.
    public let position: StreamPosition
    /// The event.
    public let envelope: Envelope
    /// How many times the entry has been delivered to the group, this delivery included.
    public let deliveries: Int

    /// Creates a delivery.
    public init(channel: ChannelName, position: StreamPosition, envelope: Envelope, deliveries: Int) {
        self.channel = channel
        self.position = position
        self.envelope = envelope
        self.deliveries = deliveries
    }
}

/// A read of new entries for one consumer of a group, over several channels at once.
public struct GroupReadRequest: Sendable {
    /// The group.
    public var group: String
    /// The consumer reading, unique within the group.
    public var consumer: String
    /// The channels to read; the group must exist on each.
    public var channels: [ChannelName]
    /// The most entries to return, over all channels.
    public var count: Int
    /// How long to wait when nothing is there; `nil` returns at once.
    public var block: Duration?
    /// Patterns the caller follows: an engine may return early, with nothing, when a channel
    /// matching one appears, so the caller can add it. Engines that cannot tell ignore this.
    public var watching: [ChannelPattern]

    /// Creates a read.
    public init(
        group: String, consumer: String, channels: [ChannelName], count: Int, block: Duration?,
        watching: [ChannelPattern] = []
    ) {
        self.group = group
        self.consumer = consumer
        self.channels = channels
        self.count = count
        self.block = block
        self.watching = watching
    }
}

/// A claim of entries that stayed pending too long, walking the pending list with a cursor.
///
/// It maps onto Redis's `XAUTOCLAIM`: the result's ``ClaimResult/cursor`` is the next call's
/// cursor, and ``StreamPosition/start`` starts a new pass.
public struct ClaimRequest: Sendable {
    /// The group.
    public var group: String
    /// The channel.
    public var channel: ChannelName
    /// The consumer taking the entries over.
    public var consumer: String
    /// Only entries idle at least this long are claimed.
    public var minIdle: Duration
    /// Where this pass of the pending list goes on from.
    public var cursor: StreamPosition
    /// The most entries to examine.
    public var count: Int

    /// Creates a claim.
    public init(group: String, channel: ChannelName, consumer: String, minIdle: Duration, cursor: StreamPosition = .start, count: Int = 100) {
        self.group = group
        self.channel = channel
        self.consumer = consumer
        self.minIdle = minIdle
        self.cursor = cursor
        self.count = count
    }
}

/// What a claim took over.
public struct ClaimResult: Sendable {
    /// The entries now pending for the claiming consumer, their delivery counts raised by one.
    public var deliveries: [Delivery]
    /// Where the next claim goes on; ``StreamPosition/start`` once the pass is complete.
    public var cursor: StreamPosition
    /// Pending entries whose event was trimmed from the stream: removed from the pending list.
    public var deleted: [StreamPosition]

    /// Creates a result.
    public init(deliveries: [Delivery], cursor: StreamPosition, deleted: [StreamPosition]) {
        self.deliveries = deliveries
        self.cursor = cursor
        self.deleted = deleted
    }
}

/// A group's state on one channel.
public struct GroupInfo: Sendable, Hashable {
    /// The group.
    public var group: String
    /// The channel.
    public var channel: ChannelName
    /// Entries delivered and not yet acked.
    public var pending: Int
    /// Entries pending per consumer.
    public var pendingByConsumer: [String: Int]
    /// Entries stored and not yet delivered to the group.
    public var lag: Int
    /// How long the oldest pending entry has waited since it was last delivered; `nil` without pending entries.
    public var oldestPendingIdle: Duration?

    /// Creates the info.
    public init(
        group: String, channel: ChannelName, pending: Int, pendingByConsumer: [String: Int], lag: Int, oldestPendingIdle: Duration? = nil
    ) {
        self.oldestPendingIdle = oldestPendingIdle
        self.group = group
        self.channel = channel
        self.pending = pending
        self.pendingByConsumer = pendingByConsumer
        self.lag = lag
    }
}
