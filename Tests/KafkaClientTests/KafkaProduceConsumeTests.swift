import Foundation
import KafkaClient
import RedisTestSupport
import Testing

@Suite("Producing and reading", .needs(.kafka))
struct KafkaProduceConsumeTests {
    @Test("1,000 records produced idempotently in one batch come back in order, with keys, headers and timestamps")
    func batchRoundTrip() async throws {
        let topic = try await KafkaTest.createTopic("batch")
        let producer = try KafkaProducer(configuration: KafkaTest.configuration())
        defer { producer.close() }
        let base: Int64 = 1_700_000_000_000
        let records = (0..<1000).map { (index: Int) -> KafkaOutgoingRecord in
            let headers = [
                KafkaHeader(name: "index", value: KafkaTest.bytes("\(index)")), KafkaHeader(name: "bytes", value: [0, 255, UInt8(index % 256)]),
            ]
            let key: [UInt8]? = index % 10 == 0 ? nil : KafkaTest.bytes("key-\(index)")
            return KafkaOutgoingRecord(
                topic: topic, key: key, value: KafkaTest.bytes("value-\(index)"), headers: headers, timestampMilliseconds: base + Int64(index))
        }
        let deliveries = try await producer.send(records)
        #expect(deliveries.count == 1000)
        #expect(deliveries.map(\.offset) == (0..<1000).map { Int64($0) })
        #expect(deliveries.allSatisfy { $0.topic == topic && $0.partition == 0 })

        let reader = try KafkaConsumer(configuration: KafkaTest.configuration(), groupID: nil)
        try reader.assign([KafkaTopicPartition(topic: topic, partition: 0): KafkaConsumer.beginning])
        let fetched = try await KafkaTest.read(reader, count: 1000)
        await reader.close()
        try #require(fetched.count == 1000)
        for (index, record) in fetched.enumerated() {
            let sent = records[index]
            #expect(record.topic == topic && record.partition == 0 && record.offset == Int64(index))
            #expect(record.key == sent.key)
            #expect(record.value == sent.value)
            #expect(record.headers == sent.headers)
            #expect(record.timestampMilliseconds == sent.timestampMilliseconds)
        }
    }

    @Test("null and empty keys and values stay apart, tombstones included")
    func nullAndEmpty() async throws {
        let topic = try await KafkaTest.createTopic("null-empty")
        let producer = try KafkaProducer(configuration: KafkaTest.configuration())
        defer { producer.close() }
        let records = [
            KafkaOutgoingRecord(topic: topic, key: [], value: []),
            KafkaOutgoingRecord(topic: topic, key: nil, value: nil),
            KafkaOutgoingRecord(topic: topic, key: KafkaTest.bytes("k"), value: nil),
            KafkaOutgoingRecord(topic: topic, key: nil, value: [], headers: [KafkaHeader(name: "empty", value: [])]),
        ]
        _ = try await producer.send(records)
        let reader = try KafkaConsumer(configuration: KafkaTest.configuration(), groupID: nil)
        try reader.assign([KafkaTopicPartition(topic: topic, partition: 0): KafkaConsumer.beginning])
        let fetched = try await KafkaTest.read(reader, count: records.count)
        await reader.close()
        #expect(fetched.map(\.key) == records.map(\.key))
        #expect(fetched.map(\.value) == records.map(\.value))
        #expect(fetched.map(\.headers) == records.map(\.headers))
    }

    @Test("records without a partition go by key: one key, one partition")
    func partitionByKey() async throws {
        let topic = try await KafkaTest.createTopic("by-key", partitions: 3)
        let producer = try KafkaProducer(configuration: KafkaTest.configuration())
        defer { producer.close() }
        let keys = (0..<30).map { "customer-\($0)" }
        let records = (0..<4).flatMap { round in keys.map { KafkaOutgoingRecord(topic: topic, key: KafkaTest.bytes($0), value: KafkaTest.bytes("\(round)")) } }
        let deliveries = try await producer.send(records)
        var partitionOfKey: [String: Set<Int32>] = [:]
        for (record, delivery) in zip(records, deliveries) {
            partitionOfKey[String(decoding: record.key!, as: UTF8.self), default: []].insert(delivery.partition)
        }
        #expect(partitionOfKey.values.allSatisfy { $0.count == 1 })
        #expect(Set(deliveries.map(\.partition)).count > 1, "30 keys over 3 partitions all landed in one")
        #expect(Set(deliveries.map(\.partition)).isSubset(of: [0, 1, 2]))
        // A second batch puts each key where the first did.
        let again = try await producer.send(keys.map { KafkaOutgoingRecord(topic: topic, key: KafkaTest.bytes($0), value: nil) })
        for (key, delivery) in zip(keys, again) { #expect(partitionOfKey[key] == [delivery.partition]) }
    }

    @Test("an explicit partition, watermarks, seeking, and the offset for a time")
    func positions() async throws {
        let topic = try await KafkaTest.createTopic("positions", partitions: 2)
        let producer = try KafkaProducer(configuration: KafkaTest.configuration())
        defer { producer.close() }
        // One record per send, so that each is a batch of its own (Tansu's high watermark is only
        // right for those).
        var deliveries: [KafkaDelivery] = []
        for index in 0..<5 {
            deliveries += try await producer.send([
                KafkaOutgoingRecord(topic: topic, partition: 1, value: KafkaTest.bytes("\(index)"), timestampMilliseconds: 1_000_000 + Int64(index) * 1000)
            ])
        }
        #expect(deliveries.map(\.partition) == [1, 1, 1, 1, 1])
        #expect(deliveries.map(\.offset) == [0, 1, 2, 3, 4])
        try await producer.flush(timeout: .seconds(5))

        let partition = KafkaTopicPartition(topic: topic, partition: 1)
        let reader = try KafkaConsumer(configuration: KafkaTest.configuration(), groupID: nil)
        let marks = try await reader.watermarks(partition, timeout: .seconds(10))
        #expect(marks.low == 0 && marks.high == 5)
        let empty = try await reader.watermarks(KafkaTopicPartition(topic: topic, partition: 0), timeout: .seconds(10))
        #expect(empty.low == 0 && empty.high == 0)

        // The answer is at or before the first record at that time: Tansu always says 0.
        let atTime = try await reader.offsetForTime(partition, milliseconds: 1_000_000 + 3000, timeout: .seconds(10))
        #expect((0...3).contains(atTime))

        try reader.assign([partition: KafkaConsumer.beginning])
        #expect(try reader.assignment() == [partition])
        let first = try await KafkaTest.read(reader, count: 5)
        #expect(first.map(\.offset) == [0, 1, 2, 3, 4])
        try await reader.seek(partition, to: 3)
        let replay = try await KafkaTest.read(reader, count: 2)
        #expect(replay.map(\.offset) == [3, 4])
        #expect(replay.map(\.value) == [KafkaTest.bytes("3"), KafkaTest.bytes("4")])
        // Nothing more: a poll waits its timeout and returns nothing (the partition's end is no error).
        #expect(try await reader.poll(maxRecords: 10, timeout: .milliseconds(300)).isEmpty)
        await reader.close()
        await reader.close()
        let error = await #expect(throws: KafkaError.self) { try await reader.poll(maxRecords: 1, timeout: .milliseconds(10)) }
        #expect(error?.code == KafkaError.closed)
    }
}
