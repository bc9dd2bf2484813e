import Logging
import Metrics
import Synchronization

/// An event another engine sequenced, to be stored as it is.
public struct MirroredEvent: Sendable, Hashable {
    /// The envelope, with the primary's sequence number and timestamp.
    public var envelope: Envelope
    /// The primary's position of the event (its stream id on Redis).
    public var position: StreamPosition

    /// Creates a mirrored event.
    public init(envelope: Envelope, position: StreamPosition) {
        self.envelope = envelope
        self.position = position
    }
}

/// An engine that can hold a copy of another engine's channels: the target of a dual-write.
public protocol EngineMirror: Engine {
    /// Stores events as the primary sequenced them, in order, each channel's events with
    /// consecutive sequence numbers following the channel's last one here (a channel it holds
    /// nothing of starts at its first event's); events at or below it are skipped (so a repeat
    /// stores nothing). Returns how many were stored.
    /// - Throws: ``SwitchyardError`` `engine_unavailable` when the engine cannot store them, and
    ///   `invalid_position` when an event would leave a gap in a channel's sequence.
    @discardableResult
    func mirror(_ events: [MirroredEvent]) async throws(SwitchyardError) -> Int

    /// The channel's last sequence number here; 0 for a channel it does not hold.
    func lastSequence(of channel: ChannelName) async throws(SwitchyardError) -> Int64
}

/// The dual-write of a migration between engines (Redis to Kafka): every event the primary
/// stores is written to the mirror too, in each channel's order, with the primary's sequence
/// numbers, ids and timestamps; everything else (reads, groups, dead letters, state) is the primary's.
///
/// With ``Acknowledgement/primary`` a publish returns once the primary has the event and the
/// mirror is written behind it; with ``Acknowledgement/both`` it returns once the mirror has it
/// too, and fails with `engine_unavailable` when the mirror cannot take it (the primary keeps it,
/// and a retry with the same event id is answered as a duplicate once the mirror caught up).
/// Events the mirror could not take wait in order in a backlog that is retried every
/// ``Configuration/retryInterval``; a gap in the mirror's sequence (a backlog lost with the process,
/// events the primary spooled) is filled from the primary's stream before the next write, and
/// `switchyard reconcile --kafka` finds and repairs what is missing after an unclean stop.
public final class MirroredEngine: Engine {
    /// When a publish is acknowledged.
    public enum Acknowledgement: String, Sendable, Hashable, CaseIterable {
        /// Once the primary has the event; the mirror follows.
        case primary
        /// Once both engines have it.
        case both
    }

    /// The dual-write's settings.
    public struct Configuration: Sendable {
        /// When a publish is acknowledged. Default ``Acknowledgement/primary``.
        public var acknowledgement: Acknowledgement
        /// How often a backlog the mirror refused is tried again. Default 1 s.
        public var retryInterval: Duration
        /// Events the backlog of one channel may hold before the oldest are dropped and counted
        /// (reconcile repairs them from the primary). Default 100,000.
        public var backlogLimit: Int

        /// Creates settings.
        public init(acknowledgement: Acknowledgement = .primary, retryInterval: Duration = .seconds(1), backlogLimit: Int = 100_000) {
            self.acknowledgement = acknowledgement
            self.retryInterval = retryInterval
            self.backlogLimit = backlogLimit
        }
    }

    /// The engine of record: reads, groups and state are its.
    public let primary: any Engine
    /// The engine that receives a copy of every stored event.
    public let mirror: any EngineMirror
    public let configuration: Configuration
    private let logger: Logger
    private let channels = Mutex<[ChannelName: MirrorChannel]>([:])
    private let mirrored = Counter(label: "switchyard_mirror_events_total", dimensions: [("result", "stored")])
    private let failures = Counter(label: "switchyard_mirror_events_total", dimensions: [("result", "failed")])
    private let dropped = Counter(label: "switchyard_mirror_events_total", dimensions: [("result", "dropped")])
    private let backlogGauge = Gauge(label: "switchyard_mirror_backlog")

    /// Creates a dual-write.
    public init(primary: any Engine, mirror: any EngineMirror, configuration: Configuration = Configuration(), logger: Logger) {
        self.primary = primary
        self.mirror = mirror
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs both engines and retries the backlog until cancelled.
    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.primary.run() }
            group.addTask { try await self.mirror.run() }
            group.addTask {
                while !Task.isCancelled {
                    do { try await Task.sleep(for: self.configuration.retryInterval) } catch { return }
                    for channel in self.channels.withLock({ $0.filter { !$0.value.backlog.isEmpty }.map(\.key) }) {
                        try? await self.drain(channel)
                    }
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// Events waiting for the mirror, per channel: the divergence between the two engines that
    /// this process knows of.
    public var backlog: [ChannelName: Int] {
        channels.withLock { $0.compactMapValues { $0.backlog.isEmpty ? nil : $0.backlog.count } }
    }

    // MARK: Writes

    public func append(_ requests: [AppendRequest]) async throws(SwitchyardError) -> [PublishReceipt] {
        let receipts = try await primary.append(requests)
        try await follow(requests, receipts)
        return receipts
    }

    public func append(_ request: AppendRequest, then assignment: StateAssignment) async throws(SwitchyardError) -> PublishReceipt {
        let receipt = try await primary.append(request, then: assignment)
        try await follow([request], [receipt])
        return receipt
    }

    /// Queues what the primary stored for the mirror, writes it, and with ``Acknowledgement/both``
    /// waits for the mirror (a duplicate waits for the backlog it may still be in).
    private func follow(_ requests: [AppendRequest], _ receipts: [PublishReceipt]) async throws(SwitchyardError) {
        var tickets: [ChannelName: Int] = [:]
        channels.withLock { channels in
            for (request, receipt) in zip(requests, receipts) {
                var channel = channels[request.channel] ?? MirrorChannel()
                if receipt.status == .stored, let sequenceNumber = receipt.sequenceNumber {
                    let envelope = request.envelope(sequenceNumber: sequenceNumber, timestamp: receipt.timestamp)
                    channel.backlog.append(MirroredEvent(envelope: envelope, position: receipt.streamID))
                    channel.enqueued += 1
                }
                tickets[request.channel] = channel.enqueued
                channels[request.channel] = channel
            }
        }
        updateGauge()
        guard configuration.acknowledgement == .both else {
            // The publisher does not wait: the mirror is written behind it, in order.
            for channel in tickets.keys { Task { try? await self.drain(channel) } }
            return
        }
        for channel in tickets.keys.sorted() { try? await drain(channel) }
        for (channel, ticket) in tickets where await !written(channel, ticket) {
            throw SwitchyardError(
                .engineUnavailable, "the primary stored the event but the mirror has not acknowledged it yet; it is retried in order",
                details: ["channel": .string(channel.rawValue), "backlog": .int(Int64(channels.withLock { $0[channel]!.backlog.count }))])
        }
    }

    /// Whether the mirror has the channel's events up to `ticket`, waiting while another task writes them.
    private func written(_ channel: ChannelName, _ ticket: Int) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let now = channels.withLock { channels -> Bool? in
                let state = channels[channel]!
                if state.written >= ticket { return true }
                if !state.draining { return false }
                channels[channel]!.waiters.append((ticket, continuation))
                return nil
            }
            if let now { continuation.resume(returning: now) }
        }
    }

    /// Writes the channel's backlog to the mirror in order, after filling any gap in the mirror's
    /// sequence from the primary's stream; one writer per channel at a time.
    private func drain(_ channel: ChannelName) async throws(SwitchyardError) {
        while true {
            let batch = channels.withLock { channels -> [MirroredEvent]? in
                guard var state = channels[channel], !state.draining, !state.backlog.isEmpty else { return nil }
                state.draining = true
                channels[channel] = state
                return Array(state.backlog.prefix(1_000))
            }
            guard let batch else { return }
            do {
                let last = try await mirror.lastSequence(of: channel)
                let first = batch[0].envelope.sequenceNumber
                var events = batch
                if first > last + 1 { events = try await missing(channel, from: last + 1, before: first) + events }
                let stored = try await mirror.mirror(events)
                mirrored.increment(by: Int64(stored))
                let done = channels.withLock { channels in
                    channels[channel]!.backlog.removeFirst(batch.count)
                    channels[channel]!.written += batch.count
                    channels[channel]!.draining = false
                    let written = channels[channel]!.written
                    return channels[channel]!.takeWaiters { $0 <= written }
                }
                for waiter in done { waiter.resume(returning: true) }
                updateGauge()
            } catch {
                failures.increment(by: Int64(batch.count))
                let (overflow, waiting) = channels.withLock { channels -> (Int, [CheckedContinuation<Bool, Never>]) in
                    channels[channel]!.draining = false
                    let waiting = channels[channel]!.takeWaiters { _ in true }
                    let overflow = max(0, channels[channel]!.backlog.count - configuration.backlogLimit)
                    if overflow > 0 {
                        channels[channel]!.backlog.removeFirst(overflow)
                        channels[channel]!.written += overflow
                    }
                    return (overflow, waiting)
                }
                for waiter in waiting { waiter.resume(returning: false) }
                if overflow > 0 { dropped.increment(by: Int64(overflow)) }
                logger.warning("the mirror did not take events; they wait in the backlog", metadata: ["channel": "\(channel)", "error": "\(error)"])
                throw error
            }
        }
    }

    /// The primary's events of a channel from a sequence number up to another (excluded).
    func missing(_ channel: ChannelName, from start: Int64, before end: Int64) async throws(SwitchyardError) -> [MirroredEvent] {
        try await MirrorReconciler(primary: primary, mirror: mirror).events(of: primary, channel, from: start, through: end - 1)
            .map { MirroredEvent(envelope: $0.envelope, position: $0.position) }
    }

    private func updateGauge() {
        backlogGauge.record(channels.withLock { $0.values.reduce(0) { $0 + $1.backlog.count } })
    }

    // MARK: Everything else is the primary's

    public func read(_ channel: ChannelName, from start: ReadStart, limit: Int) async throws(SwitchyardError) -> [StoredEvent] {
        try await primary.read(channel, from: start, limit: limit)
    }
    public func channels(matching patterns: [ChannelPattern]) async throws(SwitchyardError) -> [ChannelName] {
        try await primary.channels(matching: patterns)
    }
    public func latest(_ channel: ChannelName) async throws(SwitchyardError) -> Envelope? { try await primary.latest(channel) }
    public func info(_ channel: ChannelName) async throws(SwitchyardError) -> ChannelInfo { try await primary.info(channel) }
    public func liveEvents(matching patterns: [ChannelPattern]) async throws(SwitchyardError) -> AsyncStream<Envelope> {
        try await primary.liveEvents(matching: patterns)
    }
    public func createGroup(_ group: String, on channel: ChannelName, start: GroupStart) async throws(SwitchyardError) {
        try await primary.createGroup(group, on: channel, start: start)
    }
    public func readGroup(_ request: GroupReadRequest) async throws(SwitchyardError) -> [Delivery] { try await primary.readGroup(request) }
    public func ack(_ group: String, on channel: ChannelName, positions: [StreamPosition]) async throws(SwitchyardError) -> Int {
        try await primary.ack(group, on: channel, positions: positions)
    }
    public func claim(_ request: ClaimRequest) async throws(SwitchyardError) -> ClaimResult { try await primary.claim(request) }
    public func groupInfo(_ group: String, on channel: ChannelName) async throws(SwitchyardError) -> GroupInfo {
        try await primary.groupInfo(group, on: channel)
    }
    public func deadLetter(_ request: DeadLetterRequest) async throws(SwitchyardError) { try await primary.deadLetter(request) }
    public func deadLetters(_ channel: ChannelName, limit: Int) async throws(SwitchyardError) -> [DeadLetter] {
        try await primary.deadLetters(channel, limit: limit)
    }
    public func requeueDeadLetters(_ channel: ChannelName, ids: [StreamPosition]) async throws(SwitchyardError) -> Int {
        try await primary.requeueDeadLetters(channel, ids: ids)
    }
    public func dropDeadLetters(_ channel: ChannelName, ids: [StreamPosition]) async throws(SwitchyardError) -> Int {
        try await primary.dropDeadLetters(channel, ids: ids)
    }
    public func setState(_ assignment: StateAssignment) async throws(SwitchyardError) { try await primary.setState(assignment) }
    public func state(_ key: StateKey) async throws(SwitchyardError) -> StoredState? { try await primary.state(key) }

    /// The primary's health: the mirror's is ``mirrorHealth()``.
    public func health() async -> EngineHealth { await primary.health() }

    /// The mirror's health.
    public func mirrorHealth() async -> EngineHealth { await mirror.health() }
}

/// One channel's events on their way to the mirror.
struct MirrorChannel {
    var backlog: [MirroredEvent] = []
    /// Events queued so far, and how many of them the mirror has (or were dropped from a full backlog).
    var enqueued = 0
    var written = 0
    var draining = false
    /// Publishes waiting for the mirror (``MirroredEngine/Acknowledgement/both``), with their tickets.
    var waiters: [(ticket: Int, continuation: CheckedContinuation<Bool, Never>)] = []

    /// Removes and returns the waiters whose ticket passes `isDone`.
    mutating func takeWaiters(_ isDone: (Int) -> Bool) -> [CheckedContinuation<Bool, Never>] {
        let done = waiters.filter { isDone($0.ticket) }.map(\.continuation)
        waiters.removeAll { isDone($0.ticket) }
        return done
    }
}
