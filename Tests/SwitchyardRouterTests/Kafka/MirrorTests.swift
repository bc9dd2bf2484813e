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
