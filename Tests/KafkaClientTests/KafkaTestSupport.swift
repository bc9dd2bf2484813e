import Foundation
import KafkaClient
import RedisTestSupport
import Testing

/// The shared broker `scripts/test` starts (`KAFKA_URL`), and brokers of a test's own.
enum KafkaTest {
    /// A configuration for the shared broker.
    static func configuration(_ properties: [String: String] = [:]) throws -> KafkaConfiguration {
        var configuration = try KafkaConfiguration(url: try TestEnvironment.value("KAFKA_URL"))
        configuration.clientID = "switchyard-tests"
        configuration.properties.merge(properties) { $1 }
        return configuration
    }

    /// Settings for consumers: Tansu's first group join takes about half of `session.timeout.ms`.
    static let consumerProperties = ["session.timeout.ms": "6000", "heartbeat.interval.ms": "500"]

    /// A topic name no other test uses.
    static func uniqueTopic(_ name: String) -> String {
        "test-\(name)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// Creates a topic on the shared broker and returns its name.
    static func createTopic(_ name: String, partitions: Int32 = 1, configs: [String: String] = [:]) async throws -> String {
        let topic = uniqueTopic(name)
        let admin = try KafkaAdmin(configuration: configuration())
        defer { admin.close() }
        try await admin.createTopics([KafkaTopicSpec(name: topic, partitions: partitions, configs: configs)], timeout: .seconds(10))
        return topic
    }

    /// Polls until `count` records came or `timeout` passed, and returns them.
    static func read(_ consumer: KafkaConsumer, count: Int, timeout: Duration = .seconds(30)) async throws -> [KafkaRecord] {
        let deadline = ContinuousClock.now + timeout
        var records: [KafkaRecord] = []
        while records.count < count, ContinuousClock.now < deadline {
            records += try await consumer.poll(maxRecords: count - records.count, timeout: .milliseconds(500))
        }
        return records
    }

    /// The bytes of `text`.
    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
}
