/// A channel's state in an engine.
public struct ChannelInfo: Sendable, Hashable {
    /// The channel.
    public var channel: ChannelName
    /// Entries in the stream now.
    public var length: Int
    /// The last sequence number given out; 0 before the first event.
    public var lastSequenceNumber: Int64
    /// The oldest sequence number still stored, or `nil` when the stream is empty.
    public var firstSequenceNumber: Int64?
    /// The consumer groups on the channel.
    public var groups: [String]
    /// Entries trimmed before every group had been delivered them, because the hard cap was
    /// hit (DESIGN promise 6): never silent, always counted here and in metrics.
    public var trimmedUndelivered: Int
    /// Entries on the dead-letter stream.
    public var deadLetters: Int

    /// Creates the info.
    public init(
        channel: ChannelName, length: Int, lastSequenceNumber: Int64, firstSequenceNumber: Int64?, groups: [String],
        trimmedUndelivered: Int, deadLetters: Int
    ) {
        self.channel = channel
        self.length = length
        self.lastSequenceNumber = lastSequenceNumber
        self.firstSequenceNumber = firstSequenceNumber
        self.groups = groups
        self.trimmedUndelivered = trimmedUndelivered
        self.deadLetters = deadLetters
    }
}
