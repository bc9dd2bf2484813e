import Foundation
import Testing

/// A server (or program) a test needs, named by the variable `scripts/test` sets when it has
/// started it.
public enum TestServer: String, Sendable, CaseIterable {
    /// The shared redis-server (`REDIS_URL`); tests that start private servers need its binary too.
    case redis = "REDIS_URL"
    /// A Redis primary and replica under three Sentinels (`REDIS_SENTINEL_URL`).
    case sentinel = "REDIS_SENTINEL_URL"
    /// A Redis Cluster of three primaries and three replicas (`REDIS_CLUSTER_URL`, one node's URL).
    case cluster = "REDIS_CLUSTER_URL"
    /// The throwaway PostgreSQL (`POSTGRES_URL`).
    case postgres = "POSTGRES_URL"
    /// The throwaway Kafka broker, Tansu (`KAFKA_URL`); `SWITCHYARD_LIBRDKAFKA` names the librdkafka
    /// to load and `SWITCHYARD_TANSU` the broker's binary, for tests that start brokers of their own.
    case kafka = "KAFKA_URL"
    /// The test virtualenv's Python with redis-py and the other clients (`SWITCHYARD_PYTHON`).
    case python = "SWITCHYARD_PYTHON"
    /// A headless Chromium for the console's browser test (`SWITCHYARD_CHROMIUM`).
    case chromium = "SWITCHYARD_CHROMIUM"
    /// Node.js, which runs the browser client's unit tests (`SWITCHYARD_NODE`).
    case node = "SWITCHYARD_NODE"
    /// Debian's TypeScript compiler, which checks the browser client's JSDoc types and the generated
    /// payload declarations (`SWITCHYARD_TSC`).
    case typescript = "SWITCHYARD_TSC"

    /// Whether the variable is set (and not empty).
    public var isConfigured: Bool {
        !(ProcessInfo.processInfo.environment[rawValue] ?? "").isEmpty
    }

    /// Whether tests that need a server must run even when it is missing, and fail: `scripts/test`
    /// sets `SWITCHYARD_TEST_SERVERS=required`, so that nothing it runs is skipped.
    public static var areRequired: Bool {
        ProcessInfo.processInfo.environment["SWITCHYARD_TEST_SERVERS"] == "required"
    }
}

extension Trait where Self == ConditionTrait {
    /// Runs the suite or test where the servers it needs are configured (through `scripts/test`);
    /// a plain `swift test` skips it and says what it needs. Under `scripts/test` nothing is skipped.
    public static func needs(_ servers: TestServer...) -> Self {
        let names = servers.map(\.rawValue).joined(separator: ", ")
        return .enabled(
            if: TestServer.areRequired || servers.allSatisfy(\.isConfigured),
            "needs \(names): run it through scripts/test, which starts the servers")
    }
}
