import Foundation
import JSONSchema
import KafkaClient
import Logging
import RedisTestSupport
import Switchyard
import SwitchyardKafka
import Testing

/// The Kafka engine's topics as other Kafka clients see them: confluent-kafka for Python (on
/// librdkafka, as most non-Java clients are) reads what Switchyard writes, with a plain consumer
/// and in a consumer group, and writes envelopes that a new engine takes up as its own.
@Suite("Kafka engine: interop with confluent-kafka", .serialized, .needs(.kafka, .python))
struct KafkaInteropTests {
    /// Runs `script` with the test virtualenv's Python; `stdin` is handed to it. Returns its output.
    static func python(_ script: String, _ arguments: [String], stdin: String? = nil) async throws -> String {
        let python = try TestEnvironment.value("SWITCHYARD_PYTHON")
        let result = try await runProgram(python, ["-c", script] + arguments, stdin: stdin)
        try #require(result.status == 0, "python failed: \(result.stderr)")
        return result.stdout
    }

    /// One JSON object per output line.
    static func lines(_ output: String) throws -> [JSONValue] {
        try output.split(separator: "\n").map { try JSONValue(parsing: Array($0.utf8)) }
    }

    /// The topic of a channel without a topic of its own, spelled out as `KafkaTopicNames` documents it.
    static func topic(of channel: ChannelName) -> String {
        "switchyard." + channel.rawValue.replacing(":", with: "..")
    }

    static var bootstrapServers: String { KafkaTestServer.configuration().bootstrapServers }

    @Test("a plain confluent-kafka consumer reads every envelope Switchyard wrote, in order, with its switchyard-id header")
    func pythonReadsWhatSwitchyardWrote() async throws {
        try await EngineKind.kafka.isolated {
            let router = Fixtures.router(.kafka)
            let channel = Fixtures.channel("test:interop.out")
            var receipts: [PublishReceipt] = []
            for round in 0..<4 {
                receipts += try await router.publish((0..<5).map { PublishRequest(channel: channel, payload: Fixtures.payload(round * 5 + $0)) })
            }
            let stored = try await router.engine.read(channel, from: .beginning, limit: 100).map(\.envelope)
            #expect(stored.count == 20)

            let output = try await Self.python(
                """
                import json, sys, time
                from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
                consumer = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "unused", "enable.auto.commit": False})
                consumer.assign([TopicPartition(sys.argv[2], 0, OFFSET_BEGINNING)])
                wanted, seen, deadline = int(sys.argv[3]), 0, time.time() + 30
                while seen < wanted and time.time() < deadline:
                    message = consumer.poll(0.5)
                    if message is None or message.error():
                        continue
                    seen += 1
                    print(json.dumps({"partition": message.partition(), "offset": message.offset(), "key": message.key().decode(),
                                      "headers": {k: v.decode() for k, v in message.headers() or []},
                                      "value": message.value().decode(), "envelope": json.loads(message.value())}))
                consumer.close()
                """, [Self.bootstrapServers, Self.topic(of: channel), "20"])
            let records = try Self.lines(output)
            try #require(records.count == 20, "python read \(records.count) of 20 records")
            #expect(records.map { $0["offset"] } == (0..<20).map { JSONValue.int(Int64($0)) })
            // As Python's json module parsed them: ids, sequence numbers and payloads in publish order.
            #expect(records.map { $0["envelope"]?["event_id"]?.stringValue } == receipts.map { $0.eventID.description })
            #expect(records.map { $0["envelope"]?["sequence_number"] } == (1...20).map { JSONValue.int(Int64($0)) })
            #expect(records.map { $0["envelope"]?["data"] } == stored.map(\.data))
            #expect(records.map { $0["envelope"]?["channel"]?.stringValue } == Array(repeating: channel.rawValue, count: 20))
            // Byte for byte the envelope every engine writes; the key is the event id (no partition key here).
            #expect(try records.map { try Envelope(decoding: $0["value"]?.stringValue ?? "") } == stored)
            #expect(records.map { $0["key"]?.stringValue } == receipts.map { $0.eventID.description })
            #expect(records.map { $0["headers"]?["switchyard-id"]?.stringValue } == receipts.map { $0.streamID.rawValue })
            #expect(records.allSatisfy { $0["headers"]?["switchyard-durable"] == "1" })
        }
    }

    @Test("envelopes a Python migration tool produced are replayed by a new engine, and publishing goes on at N+1")
    func switchyardTakesUpWhatPythonWrote() async throws {
        try await EngineKind.kafka.isolated {
            let channel = Fixtures.channel("test:interop.in")
            let count = 12
            // Timestamps a few seconds old, one millisecond apart, inside the contract's 60 s retention.
            let output = try await Self.python(
                """
                import json, os, sys, time, uuid
                from confluent_kafka import Producer
                from confluent_kafka.admin import AdminClient, NewTopic
                servers, topic, channel, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
                admin = AdminClient({"bootstrap.servers": servers})
                for future in admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)]).values():
                    future.result(20)

                def uuid7(milliseconds):
                    value = (milliseconds << 80) | (0x7 << 76) | (int.from_bytes(os.urandom(10), "big") & ((1 << 76) - 1))
                    value = (value & ~(0x3 << 62)) | (0x2 << 62)
                    return str(uuid.UUID(int=value))

                def rfc3339(milliseconds):
                    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(milliseconds // 1000)) + ".%03dZ" % (milliseconds % 1000)

                producer = Producer({"bootstrap.servers": servers, "enable.idempotence": True, "acks": "all"})
                start = int(time.time() * 1000) - 5000
                for n in range(1, count + 1):
                    at = start + n
                    envelope = {"event_id": uuid7(at), "channel": channel, "topic": channel, "sequence_number": n,
                                "timestamp": rfc3339(at), "source": "python-migration", "schema": "test:*@1",
                                "data": {"n": n, "note": "migrated"}, "metadata": {}}
                    value = json.dumps(envelope, separators=(",", ":"))
                    producer.produce(topic, key=envelope["event_id"].encode(), value=value.encode(), partition=0, timestamp=at)
                    print(value)
                assert producer.flush(20) == 0
                """, [Self.bootstrapServers, Self.topic(of: channel), channel.rawValue, String(count)])
            let written = try output.split(separator: "\n").map { try Envelope(decoding: String($0)) }
            try #require(written.count == count)

            let engine = KafkaTestServer.makeEngine()
            let replayed = try await engine.read(channel, from: .beginning, limit: 100)
            #expect(replayed.map(\.envelope) == written)
            #expect(replayed.map(\.envelope.sequenceNumber) == Array(1...Int64(count)))
            #expect(replayed.map(\.envelope.source) == Array(repeating: "python-migration", count: count))
            #expect(try await engine.info(channel).lastSequenceNumber == Int64(count))

            let router = Router(
                contracts: Fixtures.contracts, engine: engine, configuration: RouterConfiguration(source: "tests"), logger: Logger(label: "test"))
            let next = try await router.publish(to: channel, payload: Fixtures.payload(100))
            #expect(next.sequenceNumber == Int64(count) + 1)
            let all = try await KafkaTestServer.makeEngine().read(channel, from: .beginning, limit: 100).map(\.envelope)
            #expect(all.map(\.sequenceNumber) == Array(1...Int64(count + 1)))
            #expect(all.last?.eventID == next.eventID && all.last?.data["n"] == 100)
        }
    }

    @Test("a confluent-kafka consumer group reads OPA's quotes: one ticker in one partition, in sequence order")
    func pythonGroupReadsKeyedQuotes() async throws {
        let (router, _) = try KafkaTestServer.opaRouter()
        let quotes = try ChannelName("quotes.realtime")
        // Tickers of this run only: the topic is shared with other tests on the same broker.
        let tickers = (0..<5).map { _ in String((0..<5).map { _ in "ABCDEFGHIJKLMNOPQRSTUVWXYZ".randomElement()! }) }
        var published: [PublishReceipt] = []
        for round in 0..<8 {
            let batch = tickers.map { ticker -> PublishRequest in
                let quote: JSONValue = [
                    "ticker": .string(ticker), "timestamp": "2026-01-20T14:30:15.123Z", "price": .double(100 + Double(round)),
                    "volume": .int(Int64(1_000 * (round + 1))), "source": "alpaca",
                ]
                return PublishRequest(channel: quotes, payload: quote)
            }
            published += try await router.publish(batch)
        }
        let ours = Set(published.map(\.eventID.description))

        let output = try await Self.python(
            """
            import json, sys, time
            from confluent_kafka import Consumer
            wanted = set(sys.stdin.read().split())
            consumer = Consumer({"bootstrap.servers": sys.argv[1], "group.id": sys.argv[2], "auto.offset.reset": "earliest",
                                 "enable.auto.commit": False, "session.timeout.ms": 6000})
            assigned = []
            consumer.subscribe([sys.argv[3]], on_assign=lambda c, partitions: assigned.extend(p.partition for p in partitions))
            found, deadline = [], time.time() + 60
            while len(found) < len(wanted) and time.time() < deadline:
                message = consumer.poll(0.5)
                if message is None or message.error():
                    continue
                envelope = json.loads(message.value())
                if envelope["event_id"] in wanted:
                    found.append({"partition": message.partition(), "offset": message.offset(), "key": message.key().decode(),
                                  "ticker": envelope["data"]["ticker"], "sequence_number": envelope["sequence_number"],
                                  "event_id": envelope["event_id"]})
            consumer.commit(asynchronous=False)
            consumer.close()
            print(json.dumps({"assigned": sorted(assigned), "records": found}))
            """, [Self.bootstrapServers, "interop-\(UUID().uuidString)", "opa.quotes.realtime"], stdin: ours.joined(separator: "\n"))
        let report = try JSONValue(parsing: Array(output.utf8))
        #expect(report["assigned"] == [0, 1, 2, 3, 4, 5], "the group's one member holds all six partitions")
        let records = report["records"]?.arrayValue ?? []
        try #require(records.count == published.count, "python found \(records.count) of \(published.count) quotes")
        #expect(Set(records.compactMap { $0["event_id"]?.stringValue }) == ours)
        for ticker in tickers {
            let mine = records.filter { $0["ticker"]?.stringValue == ticker }
            #expect(mine.count == 8)
            #expect(Set(mine.compactMap { $0["partition"] }).count == 1, "\(ticker) in one partition: \(mine)")
            #expect(mine.allSatisfy { $0["key"]?.stringValue == ticker }, "keyed by ticker")
            // Within its partition, in offset order, the ticker's quotes come in publish order.
            let byOffset = mine.sorted { ($0["offset"]?.doubleValue ?? 0) < ($1["offset"]?.doubleValue ?? 0) }
            let sequences = byOffset.compactMap { record -> Int64? in if case .int(let n)? = record["sequence_number"] { n } else { nil } }
            let expected = published.filter { receipt in mine.contains { $0["event_id"]?.stringValue == receipt.eventID.description } }
                .compactMap(\.sequenceNumber)
            #expect(sequences == expected)
            #expect(sequences == sequences.sorted())
        }
    }
}
