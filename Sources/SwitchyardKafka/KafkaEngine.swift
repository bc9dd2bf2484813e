import JSONSchema
import KafkaClient
import Logging
import Metrics
import Switchyard
import Synchronization

/// The engine on Apache Kafka: every event is stored in its channel's topic, acknowledged by the
/// brokers (`acks=all`, idempotent producer) before the publisher's receipt; groups commit their
/// offsets as Kafka consumer groups; dead letters, state keys and group starts have topics of
/// their own.
///
/// The engine owns the channels it writes: it assigns sequence numbers and dedups event ids in
/// process, so one router process writes a channel at a time (as one Kafka Streams task owns a
/// partition). It keeps each channel's retained events in an in-process index that serves reads,
/// groups, claims, the latest state and live subscribers, and rebuilds that index from the
/// topics the first time a channel is used after a start: what the brokers hold is the record,
/// the index is a cache of it. Other processes and languages read and write the topics with any
/// Kafka client; records carry the envelope's JSON as every engine writes it. See
/// `docs/engines.md` for what each promise means on Kafka and what it costs.
public final class KafkaEngine: Engine {
    /// Where the brokers are and how the engine uses them.
    public struct Configuration: Sendable {
        /// The brokers and client settings.
        public var kafka: KafkaConfiguration
        /// The contracts whose `policy.kafka` maps channels to topics; `nil` maps every channel by name.
        public var contracts: ContractRegistry?
        /// How topics and consumer groups are named.
        public var topics: KafkaTopicNames
        /// Entries per channel the index keeps before the oldest are trimmed whatever the groups
        /// (counted as on every engine). Default 1,000,000.
        public var maxEntriesPerChannel: Int
        /// Envelopes a live subscriber may have waiting before newer ones are dropped. Default 10,000.
        public var liveBufferSize: Int
        /// How often groups' positions are committed to Kafka. Default 1 s.
        public var commitInterval: Duration
        /// How long a metadata, admin or read request may take. Default 10 s.
        public var requestTimeout: Duration
        /// How long a produce may wait for the brokers before the publish fails (`message.timeout.ms`). Default 30 s.
        public var deliveryTimeout: Duration
        /// The replication factor of topics the engine creates; -1 takes the broker's default.
        public var replicationFactor: Int16

        /// Creates a configuration.
        public init(
            kafka: KafkaConfiguration, contracts: ContractRegistry? = nil, topics: KafkaTopicNames = KafkaTopicNames(),
            maxEntriesPerChannel: Int = 1_000_000, liveBufferSize: Int = 10_000, commitInterval: Duration = .seconds(1),
            requestTimeout: Duration = .seconds(10), deliveryTimeout: Duration = .seconds(30), replicationFactor: Int16 = -1
        ) {
            self.kafka = kafka
            self.contracts = contracts
            self.topics = topics
            self.maxEntriesPerChannel = maxEntriesPerChannel
            self.liveBufferSize = liveBufferSize
            self.commitInterval = commitInterval
            self.requestTimeout = requestTimeout
            self.deliveryTimeout = deliveryTimeout
            self.replicationFactor = replicationFactor
        }
    }

    /// Where the brokers are and how the engine uses them.
    public let configuration: Configuration
    let clock: any SwitchyardClock
    let logger: Logger
    /// The retained events and every group's state, rebuilt from the topics.
    let index: EmbeddedEngine
    let producer: KafkaProducer
    let admin: KafkaAdmin
    let writers = Mutex<[ChannelName: ChannelWriter]>([:])
    let buckets = Mutex<[RateKey: TokenBucket]>([:])
    let loads = OnceEach()
    let knownTopics = Mutex<[String: Int32]>([:])
    let groupStarts = Mutex<[ChannelName: [String: EntryID]]>([:])
    let committers = Mutex<[String: KafkaConsumer]>([:])
    let committed = Mutex<[String: Int64]>([:])
    let tail = Mutex(TailState())
    let settings = Mutex<[ChannelName: ChannelSettings]>([:])

    /// Connects lazily: creating the engine loads librdkafka and checks the settings, and the first
    /// request reaches the brokers.
    /// - Throws: ``SwitchyardError`` `engine_unavailable` when librdkafka cannot be loaded or the settings are refused.
    public init(configuration: Configuration, clock: any SwitchyardClock = SystemClock(), logger: Logger) throws(SwitchyardError) {
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        self.index = EmbeddedEngine(
            configuration: .init(maxEntriesPerChannel: configuration.maxEntriesPerChannel, liveBufferSize: configuration.liveBufferSize),
            clock: clock, logger: logger)
        var producerSettings = configuration.kafka
        // Java's partitioner, so that a key lands where a Java or Python producer would put it; a
        // millisecond's linger, so that a batch the writer enqueues at once leaves as one request.
        producerSettings.properties = ["partitioner": "murmur2_random", "linger.ms": "1",
            "message.timeout.ms": String(configuration.deliveryTimeout.milliseconds)].merging(configuration.kafka.properties) { $1 }
        do {
            self.producer = try KafkaProducer(configuration: producerSettings, idempotent: true)
            self.admin = try KafkaAdmin(configuration: configuration.kafka)
        } catch {
            throw Self.unavailable(error, doing: "start the Kafka client")
        }
    }

    /// Expires dedup marks and trims the index, follows the loaded channels' topics (so that what
    /// other processes write reaches this one's readers), and commits groups' positions every
    /// ``Configuration/commitInterval``, until cancelled; commits once more on the way out.
    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await self.index.run() }
            group.addTask { await self.runTail() }
            group.addTask {
                while !Task.isCancelled {
                    do { try await Task.sleep(for: self.configuration.commitInterval) } catch { break }
                    await self.commitGroupPositions()
                }
            }
            await group.next()
            group.cancelAll()
        }
        await commitGroupPositions()
    }

    deinit {
        producer.close()
        admin.close()
    }

    // MARK: Reads, delegated to the index once the channel is loaded

    /// Reads from the index; what the index no longer holds (its retention or hard cap trimmed it)
    /// but the channel's topic still does is read from the topic, by time through
    /// `offsetsForTimes` and by sequence number from the offsets of the records the engine wrote.
    public func read(_ channel: ChannelName, from start: ReadStart, limit: Int) async throws(SwitchyardError) -> [StoredEvent] {
        try await load(channel)
        let held = try await index.read(channel, from: start, limit: limit)
        guard limit > 0, let before = try await olderThanIndex(channel, start) else { return held }
        let older = try await readLog(channel, from: start, before: before, limit: limit)
        return Array((older + held).prefix(limit))
    }

    /// The channels with a topic on the brokers or events in the index, matching any pattern.
    public func channels(matching patterns: [ChannelPattern]) async throws(SwitchyardError) -> [ChannelName] {
        var names = Set(try await index.channels(matching: patterns))
        for (topic, _) in try await topicList() {
            if let channel = channel(ofTopic: topic), patterns.contains(where: { $0.matches(channel) }) { names.insert(channel) }
        }
        return names.sorted()
    }

    public func latest(_ channel: ChannelName) async throws(SwitchyardError) -> Envelope? {
        try await load(channel)
        return try await index.latest(channel)
    }

    public func info(_ channel: ChannelName) async throws(SwitchyardError) -> ChannelInfo {
        try await load(channel)
        return try await index.info(channel)
    }

    /// Events appended through this engine from now on, in each channel's order.
    public func liveEvents(matching patterns: [ChannelPattern]) async throws(SwitchyardError) -> AsyncStream<Envelope> {
        try await index.liveEvents(matching: patterns)
    }

    // MARK: Groups

    /// Creates the group where the channel's index stands, and records its start on the groups
    /// topic, so that a restart finds it before its first commit.
    public func createGroup(_ group: String, on channel: ChannelName, start: GroupStart) async throws(SwitchyardError) {
        try await load(channel)
        if index.groupPositions(on: channel)[group] != nil { return }
        let last = start == .newest ? index.tail(of: channel)?.id ?? .zero : .zero
        try await ensureTopic(configuration.topics.groups, partitions: 1, configs: ["cleanup.policy": "compact"])
        try await send([KafkaRecords.group(group, on: channel, lastDelivered: last, topic: configuration.topics.groups)])
        groupStarts.withLock { $0[channel, default: [:]][group] = last }
        index.restoreGroup(group, on: channel, lastDelivered: last)
    }

    public func readGroup(_ request: GroupReadRequest) async throws(SwitchyardError) -> [Delivery] {
        for channel in request.channels { try await load(channel) }
        return try await index.readGroup(request)
    }

    public func ack(_ group: String, on channel: ChannelName, positions: [StreamPosition]) async throws(SwitchyardError) -> Int {
        try await load(channel)
        return try await index.ack(group, on: channel, positions: positions)
    }

    public func claim(_ request: ClaimRequest) async throws(SwitchyardError) -> ClaimResult {
        try await load(request.channel)
        return try await index.claim(request)
    }

    public func groupInfo(_ group: String, on channel: ChannelName) async throws(SwitchyardError) -> GroupInfo {
        try await load(channel)
        return try await index.groupInfo(group, on: channel)
    }

    // MARK: Dead letters

    /// Writes the letter to the channel's dead-letter topic, then acks the entry.
    public func deadLetter(_ request: DeadLetterRequest) async throws(SwitchyardError) {
        let channel = request.delivery.channel
        try await load(channel)
        let now = clock.now().unixMilliseconds
        let letter = DeadLetter(
            id: index.nextDeadLetterID(on: channel, at: now).position, envelope: request.delivery.envelope, group: request.group,
            error: request.error, deliveries: request.deliveries, failedAt: Timestamp(unixMilliseconds: now))
        let topic = configuration.topics.deadLetters(channel)
        try await ensureTopic(topic, partitions: 1, configs: ["retention.ms": "-1"])
        try await send([KafkaRecords.deadLetter(letter, pending: request.delivery.position, topic: topic)])
        index.restoreDeadLetter(letter, on: channel, pendingPosition: request.delivery.position)
    }

    public func deadLetters(_ channel: ChannelName, limit: Int) async throws(SwitchyardError) -> [DeadLetter] {
        try await load(channel)
        return try await index.deadLetters(channel, limit: limit)
    }

    /// Records the letters as resolved on the dead-letter topic, then hands them to their groups.
    public func requeueDeadLetters(_ channel: ChannelName, ids: [StreamPosition]) async throws(SwitchyardError) -> Int {
        try await load(channel)
        let moving = index.requeuableDeadLetters(channel, ids: ids)
        guard !moving.isEmpty else { return 0 }
        try await send([KafkaRecords.resolved(moving, action: "requeue", topic: configuration.topics.deadLetters(channel))])
        return try await index.requeueDeadLetters(channel, ids: moving)
    }

    public func dropDeadLetters(_ channel: ChannelName, ids: [StreamPosition]) async throws(SwitchyardError) -> Int {
        try await load(channel)
        let wanted = Set(ids)
        let present = try await index.deadLetters(channel, limit: .max).map(\.id).filter { wanted.contains($0) }
        guard !present.isEmpty else { return 0 }
        try await send([KafkaRecords.resolved(present, action: "drop", topic: configuration.topics.deadLetters(channel))])
        return try await index.dropDeadLetters(channel, ids: present)
    }

    // MARK: State keys

    /// Writes the value to the compacted state topic, then sets it in the index.
    public func setState(_ assignment: StateAssignment) async throws(SwitchyardError) {
        try await loadState()
        let expiresAt = assignment.ttl.map { clock.now().unixMilliseconds &+ max(1, $0.milliseconds) }
        try await send([KafkaRecords.state(assignment.key, json: assignment.json, expiresAt: expiresAt, topic: configuration.topics.state)])
        index.restoreState(assignment.key, json: assignment.json, expiresAt: expiresAt)
    }

    public func state(_ key: StateKey) async throws(SwitchyardError) -> StoredState? {
        try await loadState()
        return try await index.state(key)
    }

    /// Reachable when the brokers answer a metadata request within two seconds.
    public func health() async -> EngineHealth {
        do {
            _ = try await admin.topics(timeout: .seconds(2))
            return EngineHealth(engine: "kafka", reachable: true)
        } catch {
            return EngineHealth(engine: "kafka", reachable: false)
        }
    }

    // MARK: Shared pieces

    /// What the contracts say about a channel, looked up once per channel.
    func channelSettings(_ channel: ChannelName) -> ChannelSettings {
        if let known = settings.withLock({ $0[channel] }) { return known }
        let policy = configuration.contracts?.contract(for: channel)?.policy ?? ChannelPolicy.defaults(for: channel.rawValue)
        let found = ChannelSettings(
            kafka: policy.kafka, retention: Int64(policy.retentionSeconds) * 1000, durable: policy.delivery != .live,
            topic: configuration.topics.events(channel, policy: policy.kafka))
        settings.withLock { $0[channel] = found }
        return found
    }

    /// The channel's `policy.kafka`, from the contracts.
    func kafkaPolicy(_ channel: ChannelName) -> ChannelPolicy.Kafka? {
        channelSettings(channel).kafka
    }

    /// The retention the contracts give the channel, in milliseconds (its family's default without a contract).
    func retention(_ channel: ChannelName) -> Int64 {
        channelSettings(channel).retention
    }

    /// The topic of a channel's events.
    public func eventTopic(_ channel: ChannelName) -> String {
        channelSettings(channel).topic
    }

    /// The channel a topic holds: a default-named topic, or a contract's mapped topic.
    func channel(ofTopic topic: String) -> ChannelName? {
        if let channel = configuration.topics.channel(ofTopic: topic) { return channel }
        return configuration.contracts?.contracts.first { $0.policy.kafka?.topic == topic && $0.channel.isLiteral }
            .flatMap { try? ChannelName($0.channel.rawValue) }
    }

    /// Produces records and waits for the brokers' acknowledgement.
    @discardableResult
    func send(_ records: [KafkaOutgoingRecord]) async throws(SwitchyardError) -> [KafkaDelivery] {
        do {
            return try await producer.send(records)
        } catch {
            throw Self.unavailable(error, doing: "write to Kafka")
        }
    }

    /// Another writer put records in a channel this engine writes: its sequence numbers and dedup
    /// marks are this engine's alone, so the two writers' events may share numbers.
    func reportForeignRecords(_ count: Int64, on channel: ChannelName) {
        Counter(label: "switchyard_kafka_foreign_records_total", dimensions: [("channel", channel.rawValue)]).increment(by: count)
        logger.error(
            "records this engine did not write are in the channel's topic: one router process must write a channel",
            metadata: ["channel": "\(channel)", "topic": "\(eventTopic(channel))", "records": "\(count)"])
    }

    static func unavailable(_ error: KafkaError, doing what: String) -> SwitchyardError {
        SwitchyardError(.engineUnavailable, "could not \(what): \(error.message)", details: ["kafka_error": .int(Int64(error.code))])
    }
}

/// A channel's settings from its contract.
struct ChannelSettings: Sendable {
    var kafka: ChannelPolicy.Kafka?
    /// Milliseconds.
    var retention: Int64
    var durable: Bool
    var topic: String
}

/// Rate limits are kept per publishing service and channel, as on every engine.
struct RateKey: Hashable {
    var source: String
    var channel: ChannelName
}
