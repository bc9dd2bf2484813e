import KafkaClient
import RedisTestSupport
import Testing

@Suite("Consumer groups", .needs(.kafka))
struct KafkaGroupTests {
    @Test("a new member of the group continues after the offset the last one committed")
    func continuesAfterCommit() async throws {
        let topic = try await KafkaTest.createTopic("group")
        let producer = try KafkaProducer(configuration: KafkaTest.configuration())
        defer { producer.close() }
        _ = try await producer.send((0..<10).map { KafkaOutgoingRecord(topic: topic, key: KafkaTest.bytes("k"), value: KafkaTest.bytes("\($0)")) })
        let group = KafkaTest.uniqueTopic("group")
        let partition = KafkaTopicPartition(topic: topic, partition: 0)

        let first = try KafkaConsumer(configuration: KafkaTest.configuration(KafkaTest.consumerProperties), groupID: group)
        try first.subscribe(topics: [topic])
        let firstRecords = try await KafkaTest.read(first, count: 4)
        try #require(firstRecords.map(\.offset) == [0, 1, 2, 3])
        #expect(try first.assignment() == [partition])
        try await first.commit([partition: 4])
        #expect(try await first.committed([partition], timeout: .seconds(10)) == [partition: 4])
        await first.close()

        let second = try KafkaConsumer(configuration: KafkaTest.configuration(KafkaTest.consumerProperties), groupID: group)
        try second.subscribe(topics: [topic])
        let secondRecords = try await KafkaTest.read(second, count: 6)
        #expect(secondRecords.map(\.offset) == [4, 5, 6, 7, 8, 9])
        #expect(secondRecords.first?.value == KafkaTest.bytes("4"))
        #expect(try await second.committed([partition], timeout: .seconds(10)) == [partition: 4])
        try await second.commit([partition: 10])
        #expect(try await second.committed([partition], timeout: .seconds(10)) == [partition: 10])
        await second.close()
    }

    @Test("committed() leaves out partitions with nothing committed; a regex subscription finds topics")
    func committedAndRegex() async throws {
        let prefix = KafkaTest.uniqueTopic("regex")
        let admin = try KafkaAdmin(configuration: KafkaTest.configuration())
        defer { admin.close() }
        try await admin.createTopics([KafkaTopicSpec(name: "\(prefix)-a"), KafkaTopicSpec(name: "\(prefix)-b")], timeout: .seconds(10))
        let producer = try KafkaProducer(configuration: KafkaTest.configuration())
        defer { producer.close() }
        _ = try await producer.send(["a", "b"].map { KafkaOutgoingRecord(topic: "\(prefix)-\($0)", value: KafkaTest.bytes($0)) })

        let consumer = try KafkaConsumer(configuration: KafkaTest.configuration(KafkaTest.consumerProperties), groupID: KafkaTest.uniqueTopic("group"))
        try consumer.subscribe(topics: ["^\(prefix)-.*"])
        let records = try await KafkaTest.read(consumer, count: 2)
        #expect(Set(records.map(\.topic)) == ["\(prefix)-a", "\(prefix)-b"])
        let a = KafkaTopicPartition(topic: "\(prefix)-a", partition: 0)
        let b = KafkaTopicPartition(topic: "\(prefix)-b", partition: 0)
        try await consumer.commit([a: 1])
        #expect(try await consumer.committed([a, b], timeout: .seconds(10)) == [a: 1])
        await consumer.close()
    }

    @Test("a plain reader refuses group operations")
    func plainReader() async throws {
        let reader = try KafkaConsumer(configuration: KafkaTest.configuration(), groupID: nil)
        #expect(throws: KafkaError.self) { try reader.subscribe(topics: ["anything"]) }
        let error = await #expect(throws: KafkaError.self) { try await reader.commit([KafkaTopicPartition(topic: "t", partition: 0): 1]) }
        #expect(error?.code == KafkaError.invalidConfiguration)
        await reader.close()
    }
}
