import Foundation
import JSONSchema
import KafkaClient
import Logging
import Metrics
import MetricsTestKit
import RedisTestSupport
import Switchyard
import Testing

@testable import SwitchyardKafka

/// What the Kafka engine adds to the conformance suite: a restart that rebuilds everything from
/// the topics, OPA's topic mapping, and a broker that is not there.
@Suite("Kafka engine", .serialized, .enabled(if: TestServer.areRequired || TestServer.kafka.isConfigured))
struct KafkaEngineTests {
    @Test("a new engine on the same topics goes on: sequence, dedup, group positions, dead letters, state")
    func restart() async throws {
        try await EngineKind.kafka.isolated {
            let channel = Fixtures.channel("test:restart")
            let repeated = EventID.generate()
            let key = try StateKey("test:\(Fixtures.namespace).state")
            do {
                let router = Fixtures.router(.kafka)
                let engine = try #require(router.engine as? KafkaEngine)
                try await engine.createGroup("g", on: channel, start: .beginning)
                _ = try await router.publish(to: channel, payload: Fixtures.payload(0), eventID: repeated)
                for n in 1..<5 { _ = try await router.publish(to: channel, payload: Fixtures.payload(n)) }
                let delivered = try await engine.readGroup(GroupReadRequest(group: "g", consumer: "c", channels: [channel], count: 3, block: nil))
                #expect(delivered.map(\.envelope.sequenceNumber) == [1, 2, 3])
                // 1 and 3 acked, 2 dead-lettered: the group is done with everything up to 3.
                #expect(try await engine.ack("g", on: channel, positions: [delivered[0].position, delivered[2].position]) == 2)
                try await engine.deadLetter(DeadLetterRequest(group: "g", delivery: delivered[1], error: ["message": "bad"], deliveries: 3))
                try await engine.setState(StateAssignment(key: key, json: #"{"open":true}"#, ttl: nil))
                await engine.commitGroupPositions()
            }

            let router = Fixtures.router(.kafka)
            let engine = try #require(router.engine as? KafkaEngine)
            let again = try await router.publish(to: channel, payload: Fixtures.payload(0), eventID: repeated)
            #expect(again.duplicate && again.sequenceNumber == 1)
            let next = try await router.publish(to: channel, payload: Fixtures.payload(5))
            #expect(next.sequenceNumber == 6)
            #expect(try await router.replay(Fixtures.pattern(channel.rawValue)).map(\.sequenceNumber) == [1, 2, 3, 4, 5, 6])
            let resumed = try await engine.readGroup(GroupReadRequest(group: "g", consumer: "c", channels: [channel], count: 10, block: nil))
            #expect(resumed.map(\.envelope.sequenceNumber) == [4, 5, 6])
            let letters = try await engine.deadLetters(channel, limit: 10)
            #expect(letters.map(\.envelope.sequenceNumber) == [2])
            #expect(letters.first?.error["message"] == "bad")
            #expect(try await engine.state(key)?.json == #"{"open":true}"#)
            #expect(try await router.latest(channel)?.sequenceNumber == 6)
        }
    }

    @Test("a dropped dead letter stays dropped after a restart")
    func droppedLetters() async throws {
        try await EngineKind.kafka.isolated {
            let channel = Fixtures.channel("test:letters")
            do {
                let router = Fixtures.router(.kafka)
                let engine = router.engine
                try await engine.createGroup("g", on: channel, start: .beginning)
                for n in 0..<2 { _ = try await router.publish(to: channel, payload: Fixtures.payload(n)) }
                let delivered = try await engine.readGroup(GroupReadRequest(group: "g", consumer: "c", channels: [channel], count: 2, block: nil))
                for delivery in delivered {
                    try await engine.deadLetter(DeadLetterRequest(group: "g", delivery: delivery, error: ["message": "bad"], deliveries: 1))
                }
                let letters = try await engine.deadLetters(channel, limit: 10)
                #expect(try await engine.dropDeadLetters(channel, ids: [letters[0].id]) == 1)
            }
            let letters = try await Fixtures.router(.kafka).engine.deadLetters(channel, limit: 10)
            #expect(letters.map(\.envelope.sequenceNumber) == [2])
        }
    }

    @Test("what the index trimmed is replayed from the topic, by sequence number and by time")
    func replayFromTheTopic() async throws {
        try await EngineKind.kafka.isolated {
            let clock = ManualClock()
            let start = clock.now()
            // The index keeps five entries; the topic keeps every record.
            let router = Fixtures.router(.kafka, clock: clock, maxEntries: 5)
            let channel = Fixtures.channel("test:deep")
            for n in 1...12 {
                _ = try await router.publish(to: channel, payload: Fixtures.payload(n))
                clock.advance(by: .seconds(1))
            }
            #expect(try await router.info(channel).firstSequenceNumber == 8)
            let engine = router.engine
            #expect(try await engine.read(channel, from: .beginning, limit: 100).map(\.envelope.sequenceNumber) == Array(1...12))
            #expect(try await engine.read(channel, from: .sequence(3), limit: 4).map(\.envelope.sequenceNumber) == [3, 4, 5, 6])
            #expect(try await engine.read(channel, from: .sequence(6), limit: 4).map(\.envelope.sequenceNumber) == [6, 7, 8, 9])
            let third = Timestamp(unixMilliseconds: start.unixMilliseconds + 2000)
            #expect(try await engine.read(channel, from: .time(third), limit: 3).map(\.envelope.sequenceNumber) == [3, 4, 5])
            let second = try #require(try await engine.read(channel, from: .sequence(2), limit: 1).first)
            #expect(try await engine.read(channel, from: .after(second.position), limit: 2).map(\.envelope.sequenceNumber) == [3, 4])
            #expect(try await router.replay(Fixtures.pattern(channel.rawValue), since: .sequence(5), until: .sequence(9)).map(\.sequenceNumber) == [5, 6, 7, 8, 9])
        }
    }

    @Test("another process's engine follows the topics: its reads, groups and live subscribers see what the writer stores")
    func follower() async throws {
        try await EngineKind.kafka.isolated {
            let writer = Fixtures.router(.kafka)
            let existing = Fixtures.channel("test:follow.existing")
            let later = Fixtures.channel("test:follow.later")
            _ = try await writer.publish(to: existing, payload: Fixtures.payload(0))
            let follower = KafkaTestServer.makeEngine()
            try await follower.createGroup("g", on: existing, start: .newest)
            _ = try await follower.read(later, from: .beginning, limit: 1)
            let live = try await follower.liveEvents(matching: [Fixtures.pattern("test:follow.*")])
            let running = Task { try await follower.run() }
            defer { running.cancel() }
            for n in 1...20 {
                _ = try await writer.publish(to: existing, payload: Fixtures.payload(n))
                _ = try await writer.publish(to: later, payload: Fixtures.payload(n))
            }
            let caughtUp = try await eventually {
                let later = try await follower.info(later).lastSequenceNumber
                let existing = try await follower.info(existing).lastSequenceNumber
                return later == 20 && existing == 21
            }
            #expect(caughtUp)
            #expect(try await follower.read(existing, from: .beginning, limit: 100).map(\.envelope.sequenceNumber) == Array(1...21))
            #expect(try await follower.read(later, from: .beginning, limit: 100).map(\.envelope.sequenceNumber) == Array(1...20))
            let delivered = try await follower.readGroup(GroupReadRequest(group: "g", consumer: "c", channels: [existing], count: 100, block: nil))
            #expect(delivered.map(\.envelope.sequenceNumber) == Array(2...21))
            var seen: [ChannelName: [Int64]] = [:]
            for await envelope in live {
                seen[envelope.channel, default: []].append(envelope.sequenceNumber)
                if seen.values.map(\.count).reduce(0, +) == 40 { break }
            }
            #expect(seen[existing] == Array(2...21) && seen[later] == Array(1...20))
        }
    }

    @Test("a group created twice at once is not moved back over what it was delivered meanwhile")
    func createGroupRace() async throws {
        try await EngineKind.kafka.isolated {
            let router = Fixtures.router(.kafka)
            let engine = try #require(router.engine as? KafkaEngine)
            let channel = Fixtures.channel("test:race")
            for n in 1...3 { _ = try await router.publish(to: channel, payload: Fixtures.payload(n)) }
            try await engine.createGroup("g", on: channel, start: .beginning)
            let first = try await engine.readGroup(GroupReadRequest(group: "g", consumer: "a", channels: [channel], count: 10, block: nil))
            #expect(try await engine.ack("g", on: channel, positions: first.map(\.position)) == 3)
            // The second creation's last step, arriving late: where a group starts, as a consumer
            // that raced the first one would set it.
            engine.index.restoreGroup("g", on: channel, lastDelivered: .zero)
            let again = try await engine.readGroup(GroupReadRequest(group: "g", consumer: "b", channels: [channel], count: 10, block: nil))
            #expect(again.isEmpty)
        }
    }

    @Test("records another writer puts in a channel's partition are counted")
    func foreignWriter() async throws {
        try await EngineKind.kafka.isolated {
            let router = Fixtures.router(.kafka)
            let engine = try #require(router.engine as? KafkaEngine)
            let channel = Fixtures.channel("test:foreign")
            _ = try await router.publish(to: channel, payload: Fixtures.payload(1))
            let producer = try KafkaProducer(configuration: KafkaTestServer.configuration())
            _ = try await producer.send([KafkaOutgoingRecord(topic: engine.eventTopic(channel), partition: 0, value: Array("{}".utf8))])
            producer.close()
            let metrics = TestMetrics()
            let receipt = try await withMetricsFactory(metrics) { try await router.publish(to: channel, payload: Fixtures.payload(2)) }
            #expect(receipt.sequenceNumber == 2)
            #expect(try metrics.expectCounter("switchyard_kafka_foreign_records_total", [("channel", channel.rawValue)]).totalValue == 1)
        }
    }

    @Test("OPA's channels land on their topics with the seed's partitioning, retention and compaction")
    func opaTopics() async throws {
        let (router, engine) = try KafkaTestServer.opaRouter()
        let quotes = try ChannelName("quotes.realtime")
        var receipts: [PublishReceipt] = []
        for (n, ticker) in ["AAPL", "MSFT", "AAPL", "NVDA", "AAPL"].enumerated() {
            let quote: JSONValue = [
                "ticker": .string(ticker), "timestamp": "2026-01-20T14:30:15.123Z", "price": .double(185.5 + Double(n)), "volume": 45_000_000,
                "source": "alpaca",
            ]
            receipts.append(try await router.publish(to: quotes, payload: quote))
        }
        #expect(zip(receipts, receipts.dropFirst()).allSatisfy { $0.sequenceNumber! + 1 == $1.sequenceNumber! })

        let admin = try KafkaAdmin(configuration: KafkaTestServer.configuration())
        defer { admin.close() }
        let topics = Dictionary(uniqueKeysWithValues: try await admin.topics(timeout: .seconds(10)).map { ($0.name, $0.partitions) })
        #expect(topics["opa.quotes.realtime"] == 6)

        // Every AAPL quote in one partition, in publish order; each record an envelope.
        let reader = try KafkaConsumer(configuration: KafkaTestServer.configuration(), groupID: nil)
        try reader.assign(Dictionary(uniqueKeysWithValues: (0..<6).map { (KafkaTopicPartition(topic: "opa.quotes.realtime", partition: $0), KafkaConsumer.beginning) }))
        // The topic is shared with other tests: keep this test's records, by event id.
        let ours = Set(receipts.map(\.eventID))
        var mine: [(KafkaRecord, Envelope)] = []
        _ = try await eventually {
            for record in try await reader.poll(maxRecords: 100, timeout: .milliseconds(200)) {
                if let envelope = try? Envelope(decoding: record.value ?? []), ours.contains(envelope.eventID) { mine.append((record, envelope)) }
            }
            return mine.count >= receipts.count
        }
        await reader.close()
        #expect(mine.count == receipts.count)
        let aapl = mine.filter { $0.1.data["ticker"] == "AAPL" }
        #expect(aapl.count == 3)
        #expect(Set(aapl.map(\.0.partition)).count == 1)
        #expect(aapl.map(\.1.sequenceNumber) == aapl.map(\.1.sequenceNumber).sorted())
        #expect(aapl.allSatisfy { $0.0.key == Array("AAPL".utf8) })

        // The other two topics are made on first use, with their retention and compaction.
        let scores = try ChannelName("capacity.scores")
        let health = try ChannelName("system.health")
        try await engine.ensureEventTopic(scores, retention: 86_400_000)
        try await engine.ensureEventTopic(health, retention: 86_400_000)
        #expect(try await admin.configs(ofTopic: "opa.capacity.scores", timeout: .seconds(10))["retention.ms"] == "604800000")
        #expect(try await admin.configs(ofTopic: "opa.system.health", timeout: .seconds(10))["cleanup.policy"] == "compact")
        #expect(engine.eventTopic(scores) == "opa.capacity.scores" && engine.eventTopic(health) == "opa.system.health")
    }

    @Test("with no broker, a publish fails with engine_unavailable and nothing is stored")
    func noBroker() async throws {
        let port = try freeLoopbackPort()
        var configuration = KafkaTestServer.engineConfiguration(deliveryTimeout: .seconds(2))
        // librdkafka would log every refused connection to stderr.
        configuration.kafka = KafkaConfiguration(bootstrapServers: "127.0.0.1:\(port)", properties: ["log_level": "2"])
        configuration.requestTimeout = .seconds(2)
        let engine = try KafkaEngine(configuration: configuration, logger: Logger(label: "test.kafka"))
        let router = Router(contracts: Fixtures.contracts, engine: engine, configuration: RouterConfiguration(source: "tests"), logger: Logger(label: "test"))
        let channel = Fixtures.channel("test:nobroker.\(port)")
        await #expect {
            _ = try await router.publish(to: channel, payload: Fixtures.payload(1))
        } throws: { error in
            (error as? SwitchyardError)?.code == .engineUnavailable
        }
        let health = await engine.health()
        #expect(!health.reachable)
        #expect(try await engine.index.info(channel).length == 0)
    }
}
