import KafkaClient
import RedisTestSupport
import Testing

@Suite("KafkaAdmin", .needs(.kafka))
struct KafkaAdminTests {
    @Test("creates a topic with partitions and settings, reads both back, and deletes it")
    func createDescribeDelete() async throws {
        let admin = try KafkaAdmin(configuration: KafkaTest.configuration())
        defer { admin.close() }
        let name = KafkaTest.uniqueTopic("admin")
        let spec = KafkaTopicSpec(name: name, partitions: 3, configs: ["retention.ms": "3600000", "cleanup.policy": "compact"])
        try await admin.createTopics([spec], timeout: .seconds(10))
        // A topic that exists already is not an error.
        try await admin.createTopics([spec], timeout: .seconds(10))

        let topics = try await admin.topics(timeout: .seconds(10))
        #expect(topics.contains(KafkaTopicMetadata(name: name, partitions: 3)))

        let configs = try await admin.configs(ofTopic: name, timeout: .seconds(10))
        #expect(configs["retention.ms"] == "3600000")
        #expect(configs["cleanup.policy"] == "compact")

        try await admin.deleteTopics([name], timeout: .seconds(10))
        let after = try await admin.topics(timeout: .seconds(10))
        #expect(!after.contains { $0.name == name })
        // Deleting a topic that is gone is not an error either.
        try await admin.deleteTopics([name], timeout: .seconds(10))
    }

    @Test("calls after close fail with a closed error")
    func closed() async throws {
        let admin = try KafkaAdmin(configuration: KafkaTest.configuration())
        admin.close()
        admin.close()
        let error = await #expect(throws: KafkaError.self) { try await admin.topics(timeout: .seconds(1)) }
        #expect(error?.code == KafkaError.closed)
    }
}
