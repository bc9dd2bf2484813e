/// Where events are stored and how they reach readers: the one interface every engine implements.
///
/// It speaks of channels, not of any server's keys: an append with dedup, reads by position,
/// sequence number or time, consumer groups with pending entries, acks, claims and dead letters,
/// the latest state, and live notification. The embedded engine implements it in process; the
/// Redis engine with one script per publish, `XREADGROUP` and `XAUTOCLAIM`; a Kafka engine could
/// with topics, offsets and a compacted topic for the latest state.
///
/// Every engine guarantees, for every channel:
/// - each appended event is stored atomically with its dedup mark, sequence number and latest
///   state, and no reader sees a half-appended event;
/// - sequence numbers start at 1 and increase by exactly 1 per stored event (DESIGN promise 2);
/// - an event id appended again within the dedup window stores nothing and answers with the first
///   receipt (promise 3);
/// - retention never trims an entry a group has not been delivered, unless the hard cap is hit,
///   and then it is counted (promise 6);
/// - live notification follows the stream's order, and may drop under pressure: subscribers fill
///   gaps from the stream by sequence number;
/// - every method throws ``SwitchyardError`` only.
public protocol Engine: Sendable {
    /// The engine's background work (connections, expiry sweeps); returns when cancelled.
    func run() async throws

    /// Appends events in order, each as one atomic step, and returns one receipt per request.
    ///
    /// Rate limits are checked for the whole batch before anything is stored: a refusal stores
    /// nothing. A duplicate's receipt is the first publish's, marked ``PublishReceipt/duplicate``.
    /// - Throws: ``SwitchyardError`` with code `rate_limited` (details carry `retry_after_ms`).
    func append(_ requests: [AppendRequest]) async throws(SwitchyardError) -> [PublishReceipt]

    /// Reads up to `limit` entries of one channel, oldest first, from `start`.
    func read(_ channel: ChannelName, from start: ReadStart, limit: Int) async throws(SwitchyardError) -> [StoredEvent]

    /// The channels that have a stream and match any of `patterns`, sorted by name.
    func channels(matching patterns: [ChannelPattern]) async throws(SwitchyardError) -> [ChannelName]

    /// The channel's newest event, or `nil` when there is none or it expired with the retention.
    func latest(_ channel: ChannelName) async throws(SwitchyardError) -> Envelope?

    /// The channel's state.
    func info(_ channel: ChannelName) async throws(SwitchyardError) -> ChannelInfo

    /// Events appended from now on to channels matching `patterns`, in each channel's order,
    /// until the returned sequence is dropped or its iteration is cancelled.
    func liveEvents(matching patterns: [ChannelPattern]) async throws(SwitchyardError) -> AsyncStream<Envelope>

    /// Creates a consumer group on a channel; does nothing when it exists.
    func createGroup(_ group: String, on channel: ChannelName, start: GroupStart) async throws(SwitchyardError)

    /// Delivers entries the group has not yet been delivered to `request.consumer`, making them
    /// pending for it; waits up to `request.block` when there are none.
    /// - Throws: `group_not_found` when the group does not exist on one of the channels.
    func readGroup(_ request: GroupReadRequest) async throws(SwitchyardError) -> [Delivery]

    /// Acks pending entries; returns how many were pending.
    func ack(_ group: String, on channel: ChannelName, positions: [StreamPosition]) async throws(SwitchyardError) -> Int

    /// Takes over pending entries idle for at least `minIdle`, walking the pending list from a cursor.
    func claim(_ request: ClaimRequest) async throws(SwitchyardError) -> ClaimResult

    /// The group's pending entries and lag on a channel.
    func groupInfo(_ group: String, on channel: ChannelName) async throws(SwitchyardError) -> GroupInfo

    /// Adds the event to the channel's dead-letter stream and acks it, in one step.
    func deadLetter(_ request: DeadLetterRequest) async throws(SwitchyardError)

    /// The channel's dead letters, oldest first.
    func deadLetters(_ channel: ChannelName, limit: Int) async throws(SwitchyardError) -> [DeadLetter]

    /// Delivers dead letters again to the group that gave up on them, and removes them from the
    /// dead-letter stream; returns how many were found.
    func requeueDeadLetters(_ channel: ChannelName, ids: [StreamPosition]) async throws(SwitchyardError) -> Int

    /// Removes dead letters; returns how many were found.
    func dropDeadLetters(_ channel: ChannelName, ids: [StreamPosition]) async throws(SwitchyardError) -> Int

    /// Sets a state key to a JSON value with its TTL, replacing what it held.
    func setState(_ assignment: StateAssignment) async throws(SwitchyardError)

    /// A state key's value and remaining TTL, or `nil` when it is missing or expired.
    func state(_ key: StateKey) async throws(SwitchyardError) -> StoredState?

    /// Appends one event and, in the same atomic step, sets a state key when the event is stored:
    /// not when the rate limit refuses it, nor when it is a duplicate (the first publish set it).
    /// - Throws: ``SwitchyardError``, as ``append(_:)`` does.
    func append(_ request: AppendRequest, then assignment: StateAssignment) async throws(SwitchyardError) -> PublishReceipt

    /// Whether the engine answers now, and its spool; never throws: an engine that cannot tell
    /// reports itself unreachable.
    func health() async -> EngineHealth
}

extension Engine {
    /// An engine that is always reachable and has no spool, named after its type.
    public func health() async -> EngineHealth {
        EngineHealth(engine: String(describing: Self.self), reachable: true)
    }
}

/// An engine that can store without suspending, in the caller's task. The router uses it when the
/// engine has it, so that a backtest publish (``RouterConfiguration/Mode/backtest``) has no
/// suspension point before its inline handlers run: seed 001's "direct method calls".
public protocol SynchronousEngine: Engine {
    /// Stores `requests` as the engine's `append` does, without suspending.
    /// - Parameter assignment: A state key set with the last event, when it is stored (not a duplicate).
    /// - Throws: ``SwitchyardError``, storing nothing.
    func appendNow(_ requests: [AppendRequest], then assignment: StateAssignment?) throws(SwitchyardError) -> [PublishReceipt]
}
