import Foundation
import JSONSchema
import KafkaClient
import Logging
import RedisTestSupport
import Switchyard
import Testing

@testable import SwitchyardKafka

/// The dual-write from Redis to Kafka, on the real redis-server and Tansu brokers.
@Suite(
    "Dual-write to Kafka", .serialized,
    .enabled(if: TestServer.areRequired || (TestServer.kafka.isConfigured && TestServer.redis.isConfigured)))
struct MirrorTests {
    @Test("every event Redis stores reaches Kafka with its sequence number, id and order, and a new engine replays them")
    func mirrorsInOrder() async throws {
        try await EngineKind.redis.isolated {
            let redis = EngineKind.redis.make(SystemClock(), 1_000_000)
            let mirrored = MirroredEngine(
                primary: redis, mirror: KafkaTestServer.makeEngine(), configuration: .init(acknowledgement: .both), logger: Logger(label: "test.mirror"))
            let router = Router(contracts: Fixtures.contracts, engine: mirrored, configuration: RouterConfiguration(source: "tests"), logger: Logger(label: "test"))
            let channels = [Fixtures.channel("test:mirror.a"), Fixtures.channel("test:mirror.b")]
            let repeated = EventID.generate()
            for round in 0..<10 {
                var batch: [PublishRequest] = []
                for n in 0..<10 {
                    for channel in channels { batch.append(PublishRequest(channel: channel, payload: Fixtures.payload(round * 10 + n))) }
                }
                _ = try await router.publish(batch)
            }
            let first = try await router.publish(to: channels[0], payload: Fixtures.payload(100), eventID: repeated)
            let again = try await router.publish(to: channels[0], payload: Fixtures.payload(100), eventID: repeated)
            #expect(!first.duplicate && again.duplicate)
            #expect(mirrored.backlog.isEmpty)

            // A new engine finds everything in the topics.
            let fresh = KafkaTestServer.makeEngine()
            for channel in channels {
                let ours = try await redis.read(channel, from: .beginning, limit: 1_000).map(\.envelope)
                let theirs = try await fresh.read(channel, from: .beginning, limit: 1_000).map(\.envelope)
                #expect(ours.count == (channel == channels[0] ? 101 : 100))
                #expect(theirs == ours)
                #expect(theirs.map(\.sequenceNumber) == Array(1...Int64(ours.count)))
                #expect(try await MirrorReconciler(primary: redis, mirror: fresh).compare(channel).isInSync)
            }
        }
    }

    @Test("a channel whose oldest events Redis no longer holds: Kafka starts at the oldest one it holds, by the dual-write and by reconcile")
    func startsWhereRedisRetentionStarts() async throws {
        try await EngineKind.redis.isolated {
            // Redis keeps the newest 10 entries of a channel.
            let redis = EngineKind.redis.make(SystemClock(), 10)
            let logger = Logger(label: "test.mirror")
            let plain = Router(contracts: Fixtures.contracts, engine: redis, configuration: RouterConfiguration(source: "tests"), logger: logger)
            let written = Fixtures.channel("test:mirror.trimmed")
            let idle = Fixtures.channel("test:mirror.trimmed-idle")
            for n in 0..<25 {
                for channel in [written, idle] { _ = try await plain.publish(to: channel, payload: Fixtures.payload(n)) }
            }
            #expect(try await redis.info(written).firstSequenceNumber == 16)

            // The dual-write's first publish fills Kafka from the oldest event Redis holds.
            let kafka = KafkaTestServer.makeEngine()
            let mirrored = MirroredEngine(primary: redis, mirror: kafka, configuration: .init(acknowledgement: .both), logger: logger)
            let router = Router(contracts: Fixtures.contracts, engine: mirrored, configuration: RouterConfiguration(source: "tests"), logger: logger)
            _ = try await router.publish(to: written, payload: Fixtures.payload(25))
            let theirs = try await KafkaTestServer.makeEngine().read(written, from: .beginning, limit: 100).map(\.envelope)
            #expect(theirs.map(\.sequenceNumber) == Array(17...26))
            #expect(theirs == (try await redis.read(written, from: .beginning, limit: 100)).map(\.envelope))
            let reconciler = MirrorReconciler(primary: redis, mirror: kafka)
            #expect(try await reconciler.compare(written).isInSync)

            // Reconcile starts a channel the dual-write has not written the same way.
            let report = try await reconciler.compare(idle)
            #expect(report.mirrorLast == 0 && report.primaryFirst == 16 && report.lost == 15 && report.missing == 10)
            #expect(try await reconciler.repair(report) == 10)
            #expect(try await reconciler.compare(idle).isInSync)
            #expect(try await kafka.read(idle, from: .beginning, limit: 100).map(\.envelope) == (try await redis.read(idle, from: .beginning, limit: 100)).map(\.envelope))
        }
    }

    @Test("the broker dies mid-run: primary-acknowledged publishes go on, both-acknowledged ones fail and are kept, and reconcile fills a new broker")
    func brokerDies() async throws {
        try await EngineKind.redis.isolated {
            let broker = try await PrivateBroker()
            let redis = EngineKind.redis.make(SystemClock(), 1_000_000)
            var settings = KafkaTestServer.engineConfiguration(deliveryTimeout: .seconds(2))
            settings.kafka = try KafkaConfiguration(url: broker.url + "?log_level=2")
            settings.requestTimeout = .seconds(3)
            let kafka = try KafkaEngine(configuration: settings, logger: Logger(label: "test.kafka"))
            let logger = Logger(label: "test.mirror")
            let behind = MirroredEngine(primary: redis, mirror: kafka, configuration: .init(acknowledgement: .primary), logger: logger)
            let both = MirroredEngine(primary: redis, mirror: kafka, configuration: .init(acknowledgement: .both), logger: logger)
            let router = Router(contracts: Fixtures.contracts, engine: behind, configuration: RouterConfiguration(source: "tests"), logger: logger)
            let strict = Router(contracts: Fixtures.contracts, engine: both, configuration: RouterConfiguration(source: "tests"), logger: logger)
            let channel = Fixtures.channel("test:mirror.outage")

            for n in 0..<20 { _ = try await router.publish(to: channel, payload: Fixtures.payload(n)) }
            #expect(try await eventually { behind.backlog.isEmpty })
            #expect(try await kafka.lastSequence(of: channel) == 20)

            await broker.killAndWait()
            // Acknowledged by Redis alone: the publishes go on, and the mirror's share waits in order.
            for n in 20..<30 { _ = try await router.publish(to: channel, payload: Fixtures.payload(n)) }
            #expect(try await eventually { behind.backlog[channel] == 10 })
            // Acknowledged by both: refused, and Redis keeps the event (a retry is a duplicate).
            let id = EventID.generate()
            await #expect {
                _ = try await strict.publish(to: channel, payload: Fixtures.payload(30), eventID: id)
            } throws: { error in
                (error as? SwitchyardError)?.code == .engineUnavailable
            }
            #expect(try await redis.info(channel).lastSequenceNumber == 31)

            // The broker comes back empty (Tansu keeps topics in memory): reconcile rebuilds the
            // channel's topic from Redis, in order, with Redis's sequence numbers and ids.
            let restarted = try await PrivateBroker(port: broker.port)
            defer { restarted.kill() }
            let fresh = try KafkaEngine(configuration: settings, logger: Logger(label: "test.kafka"))
            let reconciler = MirrorReconciler(primary: redis, mirror: fresh)
            let report = try await reconciler.compare(channel)
            #expect(report.mirrorLast == 0 && report.missing == 31 && report.lost == 0 && !report.isInSync)
            #expect(try await reconciler.repair(report) == 31)
            #expect(try await reconciler.compare(channel).isInSync)
            let replayed = try await KafkaEngine(configuration: settings, logger: Logger(label: "test.kafka")).read(channel, from: .beginning, limit: 100)
            #expect(replayed.map(\.envelope) == (try await redis.read(channel, from: .beginning, limit: 100)).map(\.envelope))
        }
    }
}
