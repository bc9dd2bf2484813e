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

/// A Tansu broker of a test's own, on a free loopback port, stopped with SIGKILL (a process the
/// tests start inherits their blocked SIGTERM).
final class PrivateBroker: Sendable {
    let port: Int
    private let process: Process

    init() async throws {
        let binary = try TestEnvironment.value("SWITCHYARD_TANSU")
        self.port = try freeLoopbackPort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "broker", "--listener-url", "tcp://127.0.0.1:\(port)", "--advertised-listener-url", "tcp://127.0.0.1:\(port)",
            "--storage-engine", "memory://tansu/",
        ]
        var environment = ProcessInfo.processInfo.environment
        environment["RUST_LOG"] = nil
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        let port = self.port
        let up = try await eventually(timeout: .seconds(20), every: .milliseconds(50)) { acceptsConnections(port: port) }
        guard up else {
            self.kill()
            throw MissingEnvironment(name: "a Tansu broker listening on port \(port)")
        }
    }

    var url: String { "kafka://127.0.0.1:\(self.port)" }

    /// Kills the broker with SIGKILL and waits for it off the concurrency pool.
    func kill() {
        Foundation.kill(self.process.processIdentifier, SIGKILL)
    }

    func killAndWait() async {
        self.kill()
        await waitForExit(self.process)
    }
}

/// Whether something accepts TCP connections on `port` of 127.0.0.1 (a loopback connect answers at once).
func acceptsConnections(port: Int) -> Bool {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
}
