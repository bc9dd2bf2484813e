import Foundation
import Logging
import RedisClient
import RedisTestSupport
import Switchyard
import SwitchyardRedis
import Testing

extension EngineKind {
    /// The Redis engine on `REDIS_URL`, started by ``RedisTestServer/shared(_:)``.
    static let redis = EngineKind(description: "redis") { clock, maxEntries in
        RedisTestServer.makeEngine(clock: clock, configuration: RedisEngine.Configuration(maxEntriesPerChannel: maxEntries))
    }

    /// The Redis engine on the primary that the Sentinels of `REDIS_SENTINEL_URL` name.
    static let sentinel = EngineKind(description: "sentinel") { clock, maxEntries in
        RedisTestServer.makeEngine(
            url: RedisTestServer.sentinelURL, clock: clock, configuration: RedisEngine.Configuration(maxEntriesPerChannel: maxEntries))
    }

    /// The Redis engine on the cluster of `REDIS_CLUSTER_URL`, found from one node's URL.
    static let cluster = EngineKind(description: "cluster") { clock, maxEntries in
        RedisTestServer.makeEngine(
            url: RedisTestServer.clusterURL, clock: clock, configuration: RedisEngine.Configuration(maxEntriesPerChannel: maxEntries))
    }
}

/// The redis-server that `scripts/test` started, shared by every Redis test of this process.
///
/// Tests that only use the server hold it shared; a test that kills and restarts it holds it
/// exclusively (``exclusive(_:)``), so it waits for the others to finish and the others wait for
/// the server to be back. Engines made inside ``shared(_:)`` or ``exclusive(_:)`` run until it ends.
enum RedisTestServer {
    static var url: String? { try? TestEnvironment.value("REDIS_URL") }
    /// The Sentinel deployment `scripts/test` started, a second Redis apart from ``url``.
    static var sentinelURL: String? { try? TestEnvironment.value("REDIS_SENTINEL_URL") }
    /// One node of the Redis Cluster `scripts/test` started, a third Redis apart from the others.
    static var clusterURL: String? { try? TestEnvironment.value("REDIS_CLUSTER_URL") }

    /// Fails the test with a clear message when `scripts/test` did not set the environment.
    static func requireURL() throws -> String {
        try TestEnvironment.value("REDIS_URL")
    }

    /// Where engines made in the current scope are handed, to be run.
    @TaskLocal static var runner: AsyncStream<RedisEngine>.Continuation?

    static func shared(_ body: () async throws -> Void) async throws {
        try await held(exclusive: false, body)
    }

    static func exclusive(_ body: () async throws -> Void) async throws {
        try await held(exclusive: true, body)
    }

    /// Runs `body` alone among the tests that start servers of their own (``OneAtATime/privateDeployments``),
    /// beside the tests of the shared server, with every engine made in it running.
    static func withPrivateDeployment(_ body: @Sendable () async throws -> Void) async throws {
        try await OneAtATime.privateDeployments.run { try await runningEngines(body) }
    }

    /// Runs `body` holding the server gate, with every engine made in it running.
    private static func held(exclusive: Bool, _ body: () async throws -> Void) async throws {
        _ = try requireURL()
        await RedisServerGate.shared.acquire(exclusive: exclusive)
        do {
            try await runningEngines(body)
        } catch {
            await RedisServerGate.shared.release(exclusive: exclusive)
            throw error
        }
        await RedisServerGate.shared.release(exclusive: exclusive)
    }

    /// Runs `body` while a child task runs every engine made through ``makeEngine(clock:configuration:)``.
    private static func runningEngines(_ body: () async throws -> Void) async throws {
        let (engines, continuation) = AsyncStream.makeStream(of: RedisEngine.self)
        try await $runner.withValue(continuation) {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    await withDiscardingTaskGroup { runs in
                        for await engine in engines {
                            runs.addTask { try? await engine.run() }
                        }
                        runs.cancelAll()
                    }
                }
                do {
                    try await body()
                } catch {
                    continuation.finish()
                    group.cancelAll()
                    throw error
                }
                continuation.finish()
                group.cancelAll()
                try await group.waitForAll()
            }
        }
    }

    /// A new engine on its own client, running until the enclosing ``shared(_:)`` ends.
    /// - Parameter url: The server, ``url`` (`REDIS_URL`) by default.
    static func makeEngine(
        url: String? = url, clock: any SwitchyardClock = SystemClock(), configuration: RedisEngine.Configuration, clientName: String? = nil
    ) -> RedisEngine {
        var redis = try! RedisConfiguration(url: url ?? "redis://127.0.0.1:6379")
        redis.clientName = clientName
        redis.connectTimeout = .seconds(1)
        redis.reconnect.maximumDelay = .milliseconds(200)
        let client = try! RedisClient(configuration: redis, logger: Logger(label: "test.redis"))
        let engine = RedisEngine(client: client, configuration: configuration, clock: clock, logger: Logger(label: "test.redis-engine"))
        runner?.yield(engine)
        return engine
    }

    /// A plain client for checks behind the engine's back (its pool works without `run()`).
    ///
    /// Its subscriptions wait up to 30 s for their confirmation rather than the default 10 s: a
    /// check is about what arrives, not how soon its subscription connection comes up on a machine
    /// busy with the rest of the suite.
    static func client() throws -> RedisClient {
        var configuration = try RedisConfiguration(url: try requireURL())
        configuration.subscriptions.confirmationTimeout = .seconds(30)
        return try RedisClient(configuration: configuration, logger: Logger(label: "test.redis.check"))
    }
}
