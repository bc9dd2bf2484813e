import Logging
import Metrics
import Synchronization

/// The in-process engine: streams per channel, consumer groups, pending entries, claims,
/// retention with the trim guard, dedup, rate limits, latest state and gap-free sequence numbers,
/// all behind one `Mutex`.
///
/// It is the engine when no Redis is configured and the engine of backtests: with a
/// ``ManualClock`` it is deterministic, and its appends never suspend.
/// Nothing survives the process.
public final class EmbeddedEngine: SynchronousEngine {
    /// The embedded engine's limits.
    public struct Configuration: Sendable {
        /// Entries per channel beyond which the oldest are trimmed even if a group has not been
        /// delivered them (counted in ``ChannelInfo/trimmedUndelivered`` and the metric
        /// `switchyard_trim_hard_cap_total`). Default 1,000,000.
        public var maxEntriesPerChannel: Int
        /// Envelopes a live subscriber may have waiting before newer ones are dropped (the
        /// subscriber then fills the gap from the stream). Default 10,000.
        public var liveBufferSize: Int
        /// How often ``run()`` expires dedup marks and trims channels that see no appends. Default 1 s.
        public var sweepInterval: Duration

        /// Creates a configuration.
        public init(maxEntriesPerChannel: Int = 1_000_000, liveBufferSize: Int = 10_000, sweepInterval: Duration = .seconds(1)) {
            self.maxEntriesPerChannel = maxEntriesPerChannel
            self.liveBufferSize = liveBufferSize
            self.sweepInterval = sweepInterval
        }
    }

    let state = Mutex(EmbeddedEngineState())
    let clock: any SwitchyardClock
    let configuration: Configuration
    let logger: Logger
    private let hardCapTrims = Counter(label: SwitchyardMetrics.Name.trimHardCap, dimensions: [(SwitchyardMetrics.Label.engine, "embedded")])

    /// Creates an engine.
    /// - Parameters:
    ///   - configuration: Limits.
    ///   - clock: The time source; a ``ManualClock`` makes it deterministic.
    ///   - logger: Where hard-cap trims are reported.
    public init(configuration: Configuration = Configuration(), clock: any SwitchyardClock = SystemClock(), logger: Logger) {
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
    }

    /// Expires dedup marks and trims idle channels every ``Configuration/sweepInterval`` until cancelled.
    public func run() async throws {
        while !Task.isCancelled {
            do { try await clock.sleep(for: configuration.sweepInterval) } catch { return }
            let now = clock.now().unixMilliseconds
            let capped = state.withLock { state in
                var capped: [(ChannelName, Int)] = []
                let names = Array(state.channels.keys)
                for name in names {
                    state.channels[name]!.expireDedupMarks(now: now)
                    let count = state.channels[name]!.trim(now: now, hardCap: configuration.maxEntriesPerChannel)
                    if count > 0 { capped.append((name, count)) }
                }
                state.expireStateKeys(now: now)
                return capped
            }
            report(capped)
        }
    }

    /// Appends under the engine lock, never suspending; see ``appendNow(_:)``.
    public func append(_ requests: [AppendRequest]) async throws(SwitchyardError) -> [PublishReceipt] {
        try appendNow(requests)
    }

    /// Appends without suspending: the backtest path.
    /// - Parameters:
    ///   - requests: The events.
    ///   - assignment: A state key set under the same lock when the last event is stored (not a duplicate).
    /// - Throws: ``SwitchyardError`` `rate_limited`, storing nothing.
    public func appendNow(_ requests: [AppendRequest], then assignment: StateAssignment? = nil) throws(SwitchyardError) -> [PublishReceipt] {
        let now = clock.now().unixMilliseconds
        let hardCap = configuration.maxEntriesPerChannel
        let (receipts, wake, capped) = try state.withLock { state throws(SwitchyardError) in
            try Self.takeTokens(for: requests, from: &state, now: now)
            var receipts: [PublishReceipt] = []
            receipts.reserveCapacity(requests.count)
            var wake: [CheckedContinuation<Void, Never>] = []
            var capped: [(ChannelName, Int)] = []
            for request in requests {
                let isNew = state.channels.index(forKey: request.channel) == nil
                let (receipt, envelope, undelivered) = Self.store(request, in: &state.channels[request.channel, default: ChannelState(name: request.channel)], now: now, hardCap: hardCap)
                receipts.append(receipt)
                if undelivered > 0 { capped.append((request.channel, undelivered)) }
                guard let envelope else { continue }
                if !state.subscribers.isEmpty { state.notifySubscribers(envelope) }
                if !state.waiters.isEmpty { wake += state.signalWaiters(on: request.channel, isNew: isNew) }
            }
            if let assignment, receipts.last?.duplicate == false { state.setState(assignment, now: now) }
            return (receipts, wake, capped)
        }
        for continuation in wake { continuation.resume() }
        if !capped.isEmpty { report(capped) }
        return receipts
    }

    private static func takeTokens(for requests: [AppendRequest], from state: inout EmbeddedEngineState, now: Int64) throws(SwitchyardError) {
        var needed: [EmbeddedEngineState.RateKey: (count: Int, limit: ChannelPolicy.RateLimit)] = [:]
        for request in requests {
            guard let limit = request.rules.rateLimit else { continue }
            needed[EmbeddedEngineState.RateKey(source: request.source, channel: request.channel), default: (0, limit)].count += 1
        }
        var taken: [(EmbeddedEngineState.RateKey, TokenBucket)] = []
        for (key, need) in needed {
            var bucket = state.buckets[key] ?? TokenBucket(limit: need.limit, now: now)
            if let wait = bucket.take(need.count, limit: need.limit, now: now) {
                throw SwitchyardError.rateLimited(channel: key.channel, source: key.source, limit: need.limit, retryAfter: wait)
            }
            taken.append((key, bucket))
        }
        for (key, bucket) in taken { state.buckets[key] = bucket }
    }

    /// Stores one event: dedup, sequence, entry, trim, latest. Returns the receipt, the envelope
    /// when it is new, and how many undelivered entries the hard cap trimmed.
    private static func store(
        _ request: AppendRequest, in channel: inout ChannelState, now: Int64, hardCap: Int
    ) -> (PublishReceipt, Envelope?, Int) {
        channel.expireDedupMarks(now: now)
        let id = channel.lastID.successor(at: request.timestamp.unixMilliseconds)
        let sequenceNumber = channel.lastSequence + 1
        let expiresAt = now &+ request.rules.dedupWindow.milliseconds
        let mark = DedupWindow.Mark(eventID: request.eventID, sequenceNumber: sequenceNumber, id: id, expiresAt: expiresAt)
        if let previous = channel.dedup.markOrExisting(mark, now: now) {
            return (channel.duplicateReceipt(previous), nil, 0)
        }
        channel.lastID = id
        channel.lastSequence = sequenceNumber
        let timestamp = Timestamp(unixMilliseconds: id.milliseconds)
        let envelope = request.envelope(sequenceNumber: sequenceNumber, timestamp: timestamp)
        let retention = request.rules.retention.milliseconds
        channel.retentionMilliseconds = retention
        var undelivered = 0
        if request.rules.durable {
            channel.entries.append(ChannelState.Entry(id: id, envelope: envelope))
            undelivered = channel.trim(now: now, hardCap: hardCap)
        }
        channel.latest = (envelope, now &+ retention)
        let receipt = PublishReceipt(
            eventID: request.eventID, channel: request.channel, sequenceNumber: sequenceNumber,
            streamID: id.position, timestamp: timestamp)
        return (receipt, envelope, undelivered)
    }

    func report(_ capped: [(ChannelName, Int)]) {
        for (channel, count) in capped {
            hardCapTrims.increment(by: Int64(count))
            logger.warning(
                "hard cap trimmed entries a group had not been delivered",
                metadata: ["channel": "\(channel)", "count": "\(count)", "max_entries": "\(configuration.maxEntriesPerChannel)"])
        }
    }

    /// Reads from the channel's in-memory stream; an empty result for an unknown channel.
    public func read(_ channel: ChannelName, from start: ReadStart, limit: Int) async throws(SwitchyardError) -> [StoredEvent] {
        try state.withLock { state throws(SwitchyardError) in
            guard let stream = state.channels[channel] else { return [] }
            guard let offset = stream.offset(of: start) else { throw Self.invalidPosition(start) }
            return stream.entries.slice(from: offset, limit: limit).map { StoredEvent(position: $0.id.position, envelope: $0.envelope) }
        }
    }

    /// The channels that have state in this engine and match a pattern.
    public func channels(matching patterns: [ChannelPattern]) async throws(SwitchyardError) -> [ChannelName] {
        state.withLock { state in
            state.channels.keys.filter { name in patterns.contains { $0.matches(name) } }.sorted()
        }
    }

    /// The newest envelope, until the channel's retention after it was stored.
    public func latest(_ channel: ChannelName) async throws(SwitchyardError) -> Envelope? {
        let now = clock.now().unixMilliseconds
        return state.withLock { state in
            guard let latest = state.channels[channel]?.latest, latest.expiresAt > now else { return nil }
            return latest.envelope
        }
    }

    /// The channel's state; zeros for an unknown channel.
    public func info(_ channel: ChannelName) async throws(SwitchyardError) -> ChannelInfo {
        state.withLock { state in
            let stream = state.channels[channel] ?? ChannelState(name: channel)
            return ChannelInfo(
                channel: channel, length: stream.entries.count, lastSequenceNumber: stream.lastSequence,
                firstSequenceNumber: stream.entries.first?.envelope.sequenceNumber, groups: stream.groups.keys.sorted(),
                trimmedUndelivered: stream.trimmedUndelivered, deadLetters: stream.deadLetters.count)
        }
    }

    /// A stream fed under the engine lock, in append order; it drops the newest envelopes beyond ``Configuration/liveBufferSize``.
    public func liveEvents(matching patterns: [ChannelPattern]) async throws(SwitchyardError) -> AsyncStream<Envelope> {
        let (stream, continuation) = AsyncStream.makeStream(of: Envelope.self, bufferingPolicy: .bufferingOldest(configuration.liveBufferSize))
        let token = state.withLock { state in
            let token = state.token()
            state.subscribers[token] = EmbeddedEngineState.LiveSubscriber(patterns: patterns, continuation: continuation)
            return token
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: token) }
        }
        return stream
    }

    static func invalidPosition(_ start: ReadStart) -> SwitchyardError {
        SwitchyardError(.invalidPosition, "not a position of the embedded engine: \(start)")
    }
}

extension Duration {
    /// The duration in whole milliseconds.
    package var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds &* 1000 &+ attoseconds / 1_000_000_000_000_000
    }
}

extension EmbeddedEngine {
    /// In process, so always reachable; it has no spool.
    public func health() async -> EngineHealth {
        EngineHealth(engine: "embedded", reachable: true)
    }
}
