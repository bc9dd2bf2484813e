/// Everything the alert rules look at, read at one moment: the router's publish counts, the
/// streams' groups and hard-cap trims, when each service was last heard from, and the spool.
public struct AlertInputs: Sendable {
    /// When the inputs were read.
    public var time: Timestamp
    /// ``Router/publishStatistics()``: cumulative counts per `channel` label.
    public var publishes: [String: PublishStatistics]
    /// ``Router/streamsSnapshot()``; `nil` when the engine could not be read, and then the rules
    /// over groups and trims keep their alerts as they are.
    public var streams: StreamsSnapshot?
    /// Per service heard from on the health channel, when its last heartbeat arrived.
    public var lastHeartbeats: [String: Timestamp]
    /// Events waiting in the local spool.
    public var spoolDepth: Int

    /// Creates the inputs.
    public init(
        time: Timestamp, publishes: [String: PublishStatistics] = [:], streams: StreamsSnapshot? = StreamsSnapshot(),
        lastHeartbeats: [String: Timestamp] = [:], spoolDepth: Int = 0
    ) {
        self.time = time
        self.publishes = publishes
        self.streams = streams
        self.lastHeartbeats = lastHeartbeats
        self.spoolDepth = spoolDepth
    }
}
