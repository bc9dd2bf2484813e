import Switchyard

/// A real engine seen through a subclass that overrides what a test watches or times: every call
/// goes to `base` unless the subclass says otherwise.
open class ForwardingEngine: Engine, @unchecked Sendable {
    /// The engine that does the work.
    public let base: any Engine

    /// Wraps `base`.
    public init(_ base: any Engine) { self.base = base }

    open func run() async throws { try await base.run() }
    open func append(_ requests: [AppendRequest]) async throws(SwitchyardError) -> [PublishReceipt] { try await base.append(requests) }
    open func read(_ channel: ChannelName, from start: ReadStart, limit: Int) async throws(SwitchyardError) -> [StoredEvent] {
        try await base.read(channel, from: start, limit: limit)
    }
    open func channels(matching patterns: [ChannelPattern]) async throws(SwitchyardError) -> [ChannelName] {
        try await base.channels(matching: patterns)
    }
    open func latest(_ channel: ChannelName) async throws(SwitchyardError) -> Envelope? { try await base.latest(channel) }
    open func info(_ channel: ChannelName) async throws(SwitchyardError) -> ChannelInfo { try await base.info(channel) }
    open func liveEvents(matching patterns: [ChannelPattern]) async throws(SwitchyardError) -> AsyncStream<Envelope> {
        try await base.liveEvents(matching: patterns)
    }
    open func createGroup(_ group: String, on channel: ChannelName, start: GroupStart) async throws(SwitchyardError) {
        try await base.createGroup(group, on: channel, start: start)
    }
    open func readGroup(_ request: GroupReadRequest) async throws(SwitchyardError) -> [Delivery] { try await base.readGroup(request) }
    open func ack(_ group: String, on channel: ChannelName, positions: [StreamPosition]) async throws(SwitchyardError) -> Int {
        try await base.ack(group, on: channel, positions: positions)
    }
    open func claim(_ request: ClaimRequest) async throws(SwitchyardError) -> ClaimResult { try await base.claim(request) }
    open func groupInfo(_ group: String, on channel: ChannelName) async throws(SwitchyardError) -> GroupInfo {
        try await base.groupInfo(group, on: channel)
    }
    open func deadLetter(_ request: DeadLetterRequest) async throws(SwitchyardError) { try await base.deadLetter(request) }
    open func deadLetters(_ channel: ChannelName, limit: Int) async throws(SwitchyardError) -> [DeadLetter] {
        try await base.deadLetters(channel, limit: limit)
    }
    open func requeueDeadLetters(_ channel: ChannelName, ids: [StreamPosition]) async throws(SwitchyardError) -> Int {
        try await base.requeueDeadLetters(channel, ids: ids)
    }
    open func dropDeadLetters(_ channel: ChannelName, ids: [StreamPosition]) async throws(SwitchyardError) -> Int {
        try await base.dropDeadLetters(channel, ids: ids)
    }
    open func setState(_ assignment: StateAssignment) async throws(SwitchyardError) { try await base.setState(assignment) }
    open func state(_ key: StateKey) async throws(SwitchyardError) -> StoredState? { try await base.state(key) }
    open func append(_ request: AppendRequest, then assignment: StateAssignment) async throws(SwitchyardError) -> PublishReceipt {
        try await base.append(request, then: assignment)
    }
    open func health() async -> EngineHealth { await base.health() }
}
