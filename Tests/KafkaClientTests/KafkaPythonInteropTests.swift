import Foundation
import KafkaClient
import RedisTestSupport
import Testing

/// KafkaClient and confluent-kafka (the Python client on librdkafka) read each other's records.
@Suite("Interop with confluent-kafka", .needs(.kafka, .python))
struct KafkaPythonInteropTests {
    static func python(_ script: String, _ arguments: [String]) async throws -> String {
        let python = try TestEnvironment.value("SWITCHYARD_PYTHON")
        let result = try await runProgram(python, ["-c", script] + arguments)
        try #require(result.status == 0, "python failed: \(result.stderr)")
        return result.stdout
    }

    @Test("a record produced by confluent-kafka is read by KafkaConsumer")
    func pythonToSwift() async throws {
        let topic = try await KafkaTest.createTopic("from-python")
        let configuration = try KafkaTest.configuration()
        _ = try await Self.python(
            """
            import sys
            from confluent_kafka import Producer
            producer = Producer({"bootstrap.servers": sys.argv[1], "enable.idempotence": True})
            producer.produce(sys.argv[2], key=b"py-key", value=b"from python", headers=[("origin", b"python")], timestamp=1700000000123)
            assert producer.flush(10) == 0
            """, [configuration.bootstrapServers, topic])
        let reader = try KafkaConsumer(configuration: configuration, groupID: nil)
        try reader.assign([KafkaTopicPartition(topic: topic, partition: 0): KafkaConsumer.beginning])
        let records = try await KafkaTest.read(reader, count: 1)
        await reader.close()
        try #require(records.count == 1)
        #expect(records[0].key == KafkaTest.bytes("py-key"))
        #expect(records[0].value == KafkaTest.bytes("from python"))
        #expect(records[0].headers == [KafkaHeader(name: "origin", value: KafkaTest.bytes("python"))])
        #expect(records[0].timestampMilliseconds == 1_700_000_000_123)
    }

    @Test("a record produced by KafkaProducer is read by confluent-kafka")
    func swiftToPython() async throws {
        let topic = try await KafkaTest.createTopic("to-python")
        let configuration = try KafkaTest.configuration()
        let producer = try KafkaProducer(configuration: configuration)
        defer { producer.close() }
        _ = try await producer.send([
            KafkaOutgoingRecord(
                topic: topic, key: KafkaTest.bytes("swift-key"), value: KafkaTest.bytes("from swift"),
                headers: [KafkaHeader(name: "origin", value: KafkaTest.bytes("swift"))], timestampMilliseconds: 1_700_000_000_456)
        ])
        let output = try await Self.python(
            """
            import json, sys, time
            from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
            consumer = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "unused", "enable.auto.commit": False})
            consumer.assign([TopicPartition(sys.argv[2], 0, OFFSET_BEGINNING)])
            deadline = time.time() + 30
            while time.time() < deadline:
                message = consumer.poll(0.5)
                if message is None or message.error():
                    continue
                print(json.dumps({"key": message.key().decode(), "value": message.value().decode(),
                                  "headers": [[k, v.decode()] for k, v in message.headers() or []],
                                  "timestamp": message.timestamp()[1], "offset": message.offset()}))
                break
            consumer.close()
            """, [configuration.bootstrapServers, topic])
        let line = try #require(output.split(separator: "\n").first, "python read nothing")
        let record = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(record["key"] as? String == "swift-key")
        #expect(record["value"] as? String == "from swift")
        #expect(record["headers"] as? [[String]] == [["origin", "swift"]])
        #expect(record["timestamp"] as? Int == 1_700_000_000_456)
        #expect(record["offset"] as? Int == 0)
    }
}
