import JSONSchema
import Logging
import Metrics
import NIOCore
import RESP
import RedisClient
import Switchyard
import Synchronization

/// The Redis engine: streams, pub/sub and keys in the layout of docs/wire-format.md, so any Redis
/// client can take part.
///
/// A publish is one `EVALSHA` of `publish.lua` per channel per batch, pipelined; consumer groups
/// are `XREADGROUP`, `XACK`, `XAUTOCLAIM` and `XPENDING`; dead letters go to `dlq:{C}` in one script.
/// While Redis is unreachable, publishes go to the durable local ``Spool`` (unless
/// ``Configuration/failFast``), which ``run()`` replays in order when Redis returns.
///
/// The engine owns its ``RedisClient``: ``run()`` runs the client, the spool replay and the live
/// subscriptions, so run the engine (or the router that holds it), not the client.
public final class RedisEngine: Engine {
    /// The engine's settings.
    public struct Configuration: Sendable {
        /// Entries per channel beyond which the oldest are trimmed even if a group has not been
        /// delivered them (counted in ``ChannelInfo/trimmedUndelivered`` and
        /// `switchyard_trim_hard_cap_total`); 0 for no cap. Default 1,000,000.
        public var maxEntriesPerChannel: Int
        /// Where publishes go while Redis is unreachable; `nil` refuses them instead. Default `nil`.
        public var spool: Spool.Configuration?
        /// Refuses a publish at once when Redis is unreachable, even with a spool. Default `false`.
        public var failFast: Bool
        /// How often a consumer following patterns looks for new channels (in the channel registry,
        /// `switchyard:channels`). Default 250 ms, so a new channel is picked up within a second.
        public var patternPollInterval: Duration
        /// How often the engine scans the keyspace (`SCAN MATCH stream:{*} TYPE stream`) for streams
        /// missing from the channel registry (made by writers that do not register channels); what it
        /// finds is registered. One scan per engine serves every pattern: the first glob lookup of
        /// ``RedisEngine/channels(matching:)`` runs it, and a later lookup again once this long has
        /// passed; `nil` scans only the first time. A scan's cost grows with the whole keyspace, dedup
        /// marks included. Default 5 minutes.
        public var keyspaceScanInterval: Duration?
        /// How often ``run()`` tries Redis again while the spool holds events. Default 200 ms.
        public var spoolRetryInterval: Duration
        /// Envelopes a live subscriber may have waiting before newer ones are dropped (the
        /// subscriber then fills the gap from the stream). Default 10,000.
        public var liveBufferSize: Int
        /// How long ``RedisEngine/liveEvents(matching:)`` waits for its subscription to be live. Default 10 s.
        public var liveConfirmationTimeout: Duration
        /// Whether the deployment keeps replicas, so that critical channels without an `acknowledge`
        /// policy are acknowledged once a replica has the event; `nil` decides from the client:
        /// replicas under Sentinel, on a cluster where every primary has one in the slot map, none on
        /// a single server. Default `nil`.
        public var keepsReplicas: Bool?
        /// How long a `replicated` acknowledgement waits for a replica (`WAIT 1 <ms>`) before the
        /// publish fails with `engine_unavailable`. Default 1 s.
        public var replicationTimeout: Duration

        /// Creates a configuration.
        public init(
            maxEntriesPerChannel: Int = 1_000_000, spool: Spool.Configuration? = nil, failFast: Bool = false,
            patternPollInterval: Duration = .milliseconds(250), keyspaceScanInterval: Duration? = .seconds(300),
            spoolRetryInterval: Duration = .milliseconds(200), liveBufferSize: Int = 10_000,
            liveConfirmationTimeout: Duration = .seconds(10), keepsReplicas: Bool? = nil, replicationTimeout: Duration = .seconds(1)
        ) {
            self.keepsReplicas = keepsReplicas
            self.replicationTimeout = replicationTimeout
            self.liveConfirmationTimeout = liveConfirmationTimeout
            self.maxEntriesPerChannel = maxEntriesPerChannel
            self.spool = spool
            self.failFast = failFast
            self.patternPollInterval = patternPollInterval
            self.keyspaceScanInterval = keyspaceScanInterval
            self.spoolRetryInterval = spoolRetryInterval
            self.liveBufferSize = liveBufferSize
        }
    }

    /// The Redis client the engine runs and uses.
    public let client: RedisClient
    /// The settings.
    public let configuration: Configuration
    let clock: any SwitchyardClock
    let logger: Logger
    let spool: Spool?
    let liveRequests: AsyncStream<LiveRequest>
    let liveRequestsContinuation: AsyncStream<LiveRequest>.Continuation
    let liveEnvelopes = LiveEnvelopeCache()
    let registry = ChannelRegistryState()
    private let hasRun = Atomic<Bool>(false)
    let hardCapTrims = Counter(label: SwitchyardMetrics.Name.trimHardCap, dimensions: [(SwitchyardMetrics.Label.engine, "redis")])
    let keyspaceScans = Counter(label: SwitchyardMetrics.Name.keyspaceScans, dimensions: [(SwitchyardMetrics.Label.engine, "redis")])
    let forgedLiveEvents = Counter(label: SwitchyardMetrics.Name.liveForged, dimensions: [(SwitchyardMetrics.Label.engine, "redis")])

    /// Creates an engine; connects to nothing until used or run.
    /// - Parameters:
    ///   - client: The Redis client; the engine's ``run()`` runs it.
    ///   - configuration: Hard cap, spool, fail-fast and polling settings.
    ///   - clock: The time source for timestamps, rate limits, dedup windows and latest-state expiry;
    ///     a ``ManualClock`` makes them deterministic in tests. Default the system clock.
    ///   - logger: Where hard-cap trims, spooling and replays are reported.
    public init(client: RedisClient, configuration: Configuration = Configuration(), clock: any SwitchyardClock = SystemClock(), logger: Logger) {
        self.client = client
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        self.spool = configuration.spool.map { Spool(configuration: $0) }
        (liveRequests, liveRequestsContinuation) = AsyncStream.makeStream(of: LiveRequest.self)
    }

    /// Runs the Redis client, the spool replay and the live subscriptions until cancelled.
    ///
    /// An engine runs once; so does its client. A router holding the engine runs it, and so does
    /// an application that has the router among its services.
    /// - Throws: ``SwitchyardError`` `engine_unavailable` when the engine is running or has run.
    public func run() async throws {
        guard hasRun.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else {
            throw SwitchyardError(.engineUnavailable, "this RedisEngine is running or has run: run an engine, or the router or application holding it, once")
        }
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await self.client.run() }
            if spool != nil { group.addTask { await self.replaySpoolWhileRunning() } }
            for await request in liveRequests {
                group.addTask { await self.serve(request) }
            }
            group.cancelAll()
        }
    }

    /// Events waiting in the local spool for Redis to come back; 0 without a spool.
    /// - Throws: ``SwitchyardError`` `engine_unavailable` when the spool file cannot be opened.
    public var spoolDepth: Int {
        get async throws(SwitchyardError) {
            guard let spool else { return 0 }
            return try await spool.depth
        }
    }

    /// Redis answers `PING` within 2 seconds, and the spool's state.
    public func health() async -> EngineHealth {
        let answered = await result(within: .seconds(2)) { (try? await self.client.execute(PING())) != nil } ?? false
        let depth = (try? await spoolDepth) ?? 0
        return EngineHealth(engine: "redis", reachable: answered, spoolConfigured: configuration.spool != nil, spoolDepth: depth)
    }

    // MARK: Reads

    /// Reads one channel's stream with `XRANGE`; by sequence number through a server-side binary search.
    public func read(_ channel: ChannelName, from start: ReadStart, limit: Int) async throws(SwitchyardError) -> [StoredEvent] {
        guard limit > 0 else { return [] }
        let key = RedisKeys(channel).stream
        let entries: [StreamEntry]
        do {
            switch start {
            case .beginning:
                entries = try await client.execute(XRANGE(key, start: "-", end: "+", count: limit))
            case .after(let position):
                guard StreamID(position.rawValue) != nil else {
                    throw SwitchyardError(.invalidPosition, "not a stream id: \(position.rawValue.prefix(40))")
                }
                entries = try await client.execute(XRANGE(key, start: "(\(position.rawValue)", end: "+", count: limit))
            case .time(let timestamp):
                entries = try await client.execute(XRANGE(key, start: "\(max(0, timestamp.unixMilliseconds))-0", end: "+", count: limit))
            case .sequence(let number):
                let reply = try await client.execute(
                    RedisEngineScripts.readBySequence, keys: [key],
                    arguments: [ByteBuffer(string: String(number)), ByteBuffer(string: String(limit))])
                entries = try [StreamEntry](resp: reply)
            }
        } catch {
            throw SwitchyardError.redis(error, "reading \(channel)")
        }
        return entries.compactMap { entry in
            guard let envelope = Self.envelope(of: entry) else { return nil }
            return StoredEvent(position: StreamPosition(entry.id), envelope: envelope)
        }
    }

    /// `GET latest:{C}`; `nil` once the channel's retention has passed on the engine's clock.
    public func latest(_ channel: ChannelName) async throws(SwitchyardError) -> Envelope? {
        let keys = RedisKeys(channel)
        let text: ByteBuffer?
        let retention: RESPValue
        do {
            (text, retention) = try await client.withConnection(forKey: keys.latest) { connection in
                try await connection.pipeline(GET(keys.latest), GenericCommand("HGET", keys.meta, "retention_ms"))
            }
        } catch {
            throw SwitchyardError.redis(error, "reading the latest state of \(channel)")
        }
        guard let text, let envelope = try? Envelope(decoding: text.readableBytesView) else { return nil }
        if let milliseconds = retention.int, envelope.timestamp.unixMilliseconds + Int64(milliseconds) <= clock.now().unixMilliseconds {
            return nil
        }
        return envelope
    }

    /// The channel's length, sequence numbers, groups, hard-cap trims and dead letters, read in one script.
    public func info(_ channel: ChannelName) async throws(SwitchyardError) -> ChannelInfo {
        let keys = RedisKeys(channel)
        do {
            let reply = try await client.execute(RedisEngineScripts.info, keys: [keys.stream, keys.sequence, keys.meta, keys.deadLetters])
            guard let fields = reply.elements, fields.count == 6 else { throw SwitchyardError(.engineUnavailable, "unexpected reply to the info script") }
            let first = fields[1].string.flatMap { try? Envelope(decoding: $0) }
            return ChannelInfo(
                channel: channel, length: fields[0].int ?? 0, lastSequenceNumber: Int64(fields[2].int ?? 0),
                firstSequenceNumber: first?.sequenceNumber, groups: (fields[3].elements ?? []).compactMap(\.string).sorted(),
                trimmedUndelivered: fields[4].int ?? 0, deadLetters: fields[5].int ?? 0)
        } catch {
            throw SwitchyardError.redis(error, "reading the state of \(channel)")
        }
    }

    /// The envelope of a stream entry, or `nil` when its `envelope` field is missing or unreadable.
    static func envelope(of entry: StreamEntry) -> Envelope? {
        guard let bytes = entry[field: "envelope"] else { return nil }
        return try? Envelope(decoding: bytes.readableBytesView)
    }
}

extension StreamPosition {
    /// A position made from a Redis stream id.
    init(_ id: StreamID) {
        self.init(milliseconds: Int64(id.milliseconds), counter: id.sequence)
    }

    /// The Redis stream id this position names, or `nil` when it is none.
    var redisStreamID: StreamID? {
        if let (milliseconds, counter) = streamID { return StreamID(milliseconds: UInt64(max(0, milliseconds)), sequence: counter) }
        return StreamID(rawValue)
    }
}
