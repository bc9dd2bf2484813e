import Foundation
import JSONSchema
import KafkaClient
import Logging
import PostgresNIO
import RedisClient
import RedisTestSupport
import Switchyard
import SwitchyardKafka
import SwitchyardPostgres
import SwitchyardRedis
import Synchronization
import Testing

/// A consumer group moving from Redis to Kafka in the middle of the dual-write, on the real
/// redis-server, PostgreSQL and Tansu, with a publisher publishing throughout.
@Suite("PostgreSQL: a group moves from Redis to Kafka", .serialized, .needs(.redis, .postgres, .kafka), .timeLimit(.minutes(5)))
struct GroupHandoverTests {
    /// What the publisher and the consumers have done so far, for the test to wait on.
    struct Progress: Sendable {
        /// Event ids published, by payload number (which is also the sequence number).
        var published: [Int64: EventID] = [:]
        var publisherFailure: String?
        var stopPublishing = false
        var publisherStopped = false
        /// Whether a Redis consumer is stuck on the blocking event.
        var blocked = false
        /// Numbers whose effect the inbox committed, per engine.
        var handledOnRedis: Set<Int64> = []
        var deliveredOnKafka: Set<Int64> = []
        /// Deliveries on Kafka the inbox skipped, because their effect had committed on Redis.
        var skippedOnKafka: Set<Int64> = []
    }

    @Test("a group stopped mid-stream on Redis resumes on Kafka: every event's effect happens once")
    func groupMovesWithoutLossOrDuplicateEffects() async throws {
        try await TestDatabase.with { db in
            try await db.client.query("CREATE TABLE effects (event_id uuid NOT NULL, n int8 NOT NULL, engine text NOT NULL)")
            let logger = db.logger
            let redis = try Self.redisEngine(logger: logger)
            let kafka = try Self.kafkaEngine(logger: logger)
            let dualWrite = MirroredEngine(primary: redis, mirror: kafka, configuration: .init(acknowledgement: .both), logger: logger)
            let configuration = RouterConfiguration(source: "pg-tests", enforcesRateLimits: false)
            let publishing = Router(contracts: TestDatabase.contracts, engine: dualWrite, configuration: configuration, logger: logger)
            // The same KafkaEngine the dual-write writes: one process owns a channel's writes.
            let onKafka = Router(contracts: TestDatabase.contracts, engine: kafka, configuration: configuration, logger: logger)
            let channel = db.channel("handover")
            let pattern = try ChannelPattern(channel.rawValue)
            let group = "ledger"
            let blocker: Int64 = 30
            let inbox = Inbox(client: db.client, logger: logger)
            let progress = Watched(Progress())
            // No claims while the test runs: the stuck delivery stays with the consumer that got it.
            let options = ConsumerOptions(batchSize: 8, visibilityTimeout: .seconds(3600), blockTimeout: .milliseconds(200))

            @Sendable func effect(_ envelope: Envelope, on engine: String) async throws -> Bool {
                try await inbox.process(envelope, group: group) { envelope, connection in
                    try await connection.query(
                        "INSERT INTO effects VALUES (\(envelope.eventID.description)::uuid, \(envelope.data["n"]?.integer ?? -1), \(engine))",
                        logger: logger)
                }
            }

            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await publishing.run() }
                tasks.addTask {
                    do {
                        var n: Int64 = 0
                        while !progress.value.stopPublishing {
                            n += 1
                            let receipt = try await publishing.publish(to: channel, payload: ["n": .int(n)])
                            #expect(receipt.sequenceNumber == n)
                            progress.update { $0.published[n] = receipt.eventID }
                        }
                        progress.update { $0.publisherStopped = true }
                    } catch {
                        progress.update { $0.publisherFailure = "\(error)" }
                    }
                }
                defer { tasks.cancelAll() }
                func wait(until condition: @escaping @Sendable (Progress) -> Bool) async throws {
                    try await progress.wait { $0.publisherFailure != nil || condition($0) }
                    try #require(progress.value.publisherFailure == nil, "the publisher failed")
                }

                // On Redis: two consumers of the group; one gets stuck on event 30 and is stopped
                // with it pending, the other goes on past it, and both stop while the publisher goes on.
                let onRedis: @Sendable (Envelope) async throws -> Void = { envelope in
                    let n = envelope.data["n"]?.integer ?? -1
                    if n == blocker {
                        progress.update { $0.blocked = true }
                        try await untilCancelled()
                    }
                    if try await effect(envelope, on: "redis") { progress.update { $0.handledOnRedis.insert(n) } }
                }
                try await publishing.withConsumer(group: group, patterns: [pattern], consumer: "a", options: options, handler: onRedis) {
                    try await publishing.withConsumer(group: group, patterns: [pattern], consumer: "b", options: options, handler: onRedis) {
                        try await wait { $0.blocked && $0.handledOnRedis.filter { $0 > blocker }.count >= 5 }
                    }
                }
                // Five events stored after the consumers stopped (the publish in flight then may have been delivered).
                let stoppedAt = progress.value.published.count
                try await wait { $0.published.count >= stoppedAt + 6 }
                let onRedisAtMove = try await redis.groupInfo(group, on: channel)
                #expect(onRedisAtMove.pending >= 1, "the stuck event is pending")
                #expect(onRedisAtMove.lag >= 5, "events published after the consumers stopped are undelivered")
                #expect(try await db.count("SELECT count(*)::int8 FROM effects WHERE n < \(blocker)") == blocker - 1)
                #expect(try await db.count("SELECT count(*)::int8 FROM effects WHERE n = \(blocker)") == 0)

                // The move, with the publisher still publishing; then the group on Kafka.
                let starts = try await GroupHandover.move(group: group, channels: [channel], from: redis, to: kafka)
                #expect(starts == [channel: blocker], "the group starts on Kafka at the event it was stuck on")
                let movedAt = progress.value.published.count
                try await onKafka.withConsumer(
                    group: group, patterns: [pattern], options: options,
                    handler: { envelope in
                        let n = envelope.data["n"]?.integer ?? -1
                        let ran = try await effect(envelope, on: "kafka")
                        progress.update { state in
                            state.deliveredOnKafka.insert(n)
                            if !ran { state.skippedOnKafka.insert(n) }
                        }
                    }
                ) {
                    try await wait { $0.published.count >= movedAt + 20 && $0.deliveredOnKafka.count >= 10 }
                    progress.update { $0.stopPublishing = true }
                    try await wait { $0.publisherStopped }
                    let last = Int64(progress.value.published.count)
                    try await wait { Set(blocker...last).isSubset(of: $0.deliveredOnKafka) }
                }
                let onKafkaAfter = try await kafka.groupInfo(group, on: channel)
                #expect(onKafkaAfter.pending == 0 && onKafkaAfter.lag == 0)
                #expect(try await MirrorReconciler(primary: redis, mirror: kafka).compare(channel).isInSync)
            }

            let final = progress.value
            let last = Int64(final.published.count)
            #expect(final.published.keys.sorted() == Array(1...last))
            // Exactly one effect per published event: nothing lost, nothing done twice.
            var effects: [String] = []
            for try await id in try await db.client.query("SELECT event_id::text FROM effects").decode(String.self) { effects.append(id) }
            #expect(effects.sorted() == final.published.values.map { $0.description.lowercased() }.sorted())
            // Kafka delivered from the stuck event on, and events acked on Redis after it again:
            // the inbox skipped exactly those, so the overlap was real and harmless.
            #expect(final.deliveredOnKafka.min() == blocker)
            #expect(!final.skippedOnKafka.isEmpty)
            #expect(final.skippedOnKafka == final.handledOnRedis.filter { $0 >= blocker })
        }
    }

    @Test("firstUnfinished: the lowest pending event when it is below the first undelivered one, else the first undelivered")
    func firstUnfinished() async throws {
        try await TestDatabase.with { db in
            let engine = db.engine
            let channel = db.channel("first")
            try await engine.createGroup("g", on: channel, start: .beginning)
            for n in 1...10 { try await db.router.publish(to: channel, payload: ["n": .int(Int64(n))]) }
            #expect(try await GroupHandover.firstUnfinished(group: "g", on: channel, in: engine) == 1)

            // Six delivered, the third left pending: the group has not finished 3.
            let delivered = try await engine.readGroup(GroupReadRequest(group: "g", consumer: "c", channels: [channel], count: 6, block: nil))
            #expect(delivered.map(\.envelope.sequenceNumber) == Array(1...6))
            _ = try await engine.ack("g", on: channel, positions: delivered.filter { $0.envelope.sequenceNumber != 3 }.map(\.position))
            #expect(try await GroupHandover.firstUnfinished(group: "g", on: channel, in: engine) == 3)
            // The pending entry now belongs to the handover's consumer name.
            #expect(try await engine.groupInfo("g", on: channel).pendingByConsumer == [GroupHandover.consumer: 1])

            // Nothing pending: the first event never delivered.
            _ = try await engine.ack("g", on: channel, positions: delivered.filter { $0.envelope.sequenceNumber == 3 }.map(\.position))
            #expect(try await GroupHandover.firstUnfinished(group: "g", on: channel, in: engine) == 7)

            // Everything delivered and acked: the next event to be published.
            let rest = try await engine.readGroup(GroupReadRequest(group: "g", consumer: "c", channels: [channel], count: 100, block: nil))
            _ = try await engine.ack("g", on: channel, positions: rest.map(\.position))
            #expect(try await GroupHandover.firstUnfinished(group: "g", on: channel, in: engine) == 11)
        }
    }

    @Test("firstUnfinished with a publisher publishing while it reads: never past an event the group was not delivered")
    func firstUnfinishedWhilePublishing() async throws {
        try await TestDatabase.with { db in
            let channel = db.channel("busy")
            try await db.engine.createGroup("g", on: channel, start: .beginning)
            for n in 1...10 { try await db.router.publish(to: channel, payload: ["n": .int(Int64(n))]) }
            let delivered = try await db.engine.readGroup(GroupReadRequest(group: "g", consumer: "c", channels: [channel], count: 6, block: nil))
            _ = try await db.engine.ack("g", on: channel, positions: delivered.map(\.position))
            // Three events are published right after each read of the group or the channel.
            let busy = PublishingAfterReads(db.engine) {
                for n in 0..<3 { try await db.router.publish(to: channel, payload: ["n": .int(Int64(100 + n))]) }
            }
            // 7 is the first event the group was not delivered: starting later would lose it;
            // starting earlier delivers again at most the events published while the move read.
            let first = try await GroupHandover.firstUnfinished(group: "g", on: channel, in: busy)
            #expect((4...7).contains(first))
        }
    }

    static func redisEngine(logger: Logger) throws -> RedisEngine {
        var configuration = try TestEnvironment.configuration("REDIS_URL")
        configuration.connectTimeout = .seconds(2)
        return RedisEngine(client: try RedisClient(configuration: configuration, logger: logger), logger: logger)
    }

    static func kafkaEngine(logger: Logger) throws -> KafkaEngine {
        let kafka = try KafkaConfiguration(url: try TestEnvironment.value("KAFKA_URL"))
        return try KafkaEngine(
            configuration: KafkaEngine.Configuration(kafka: kafka, contracts: TestDatabase.contracts, commitInterval: .milliseconds(100)),
            logger: logger)
    }
}

/// Suspends until the task is cancelled, then throws `CancellationError`: a handler stuck on an event.
func untilCancelled() async throws {
    let (stream, continuation) = AsyncStream.makeStream(of: Never.self)
    await withTaskCancellationHandler {
        for await _ in stream {}
    } onCancel: {
        continuation.finish()
    }
    throw CancellationError()
}

/// A value that tasks change and others wait on until it meets a condition, without polling.
final class Watched<Value: Sendable>: Sendable {
    private struct Waiter {
        var id: Int
        var condition: @Sendable (Value) -> Bool
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var value: Value
        var waiters: [Waiter] = []
        var nextID = 0
    }

    private let state: Mutex<State>

    init(_ value: Value) { state = Mutex(State(value: value)) }

    var value: Value { state.withLock { $0.value } }

    /// Changes the value and wakes the waiters whose condition it now meets.
    func update(_ body: (inout Value) -> Void) {
        let ready = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            body(&state.value)
            let value = state.value
            let met = state.waiters.filter { $0.condition(value) }
            state.waiters.removeAll { waiter in met.contains { $0.id == waiter.id } }
            return met.map(\.continuation)
        }
        for continuation in ready { continuation.resume() }
    }

    /// Returns once the value meets `condition`; throws `CancellationError` when the task is cancelled first.
    func wait(until condition: @escaping @Sendable (Value) -> Bool) async throws {
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let now = state.withLock { state -> Bool in
                    if condition(state.value) { return true }
                    state.waiters.append(Waiter(id: id, condition: condition, continuation: continuation))
                    return false
                }
                if now { continuation.resume() }
                if Task.isCancelled { cancel(id) }
            }
        } onCancel: {
            cancel(id)
        }
    }

    private func cancel(_ id: Int) {
        let waiter = state.withLock { state -> Waiter? in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiters.remove(at: index)
        }
        waiter?.continuation.resume(throwing: CancellationError())
    }
}

/// The Redis engine, with events published right after each read of a group's or a channel's
/// state: a publisher that keeps publishing while a move reads where the group stands.
private final class PublishingAfterReads: ForwardingEngine, @unchecked Sendable {
    let publish: @Sendable () async throws -> Void

    init(_ base: any Engine, publish: @escaping @Sendable () async throws -> Void) {
        self.publish = publish
        super.init(base)
    }

    override func groupInfo(_ group: String, on channel: ChannelName) async throws(SwitchyardError) -> GroupInfo {
        let info = try await base.groupInfo(group, on: channel)
        try await publishing()
        return info
    }

    override func info(_ channel: ChannelName) async throws(SwitchyardError) -> ChannelInfo {
        let info = try await base.info(channel)
        try await publishing()
        return info
    }

    private func publishing() async throws(SwitchyardError) {
        do { try await publish() } catch { throw SwitchyardError(.engineUnavailable, "the publisher failed: \(error)") }
    }
}
