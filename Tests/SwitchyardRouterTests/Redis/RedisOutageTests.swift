import Foundation
import Logging
import RedisClient
import Switchyard
import SwitchyardRedis
import RedisTestSupport
import Testing

/// Tests that kill redis-server. They hold the server exclusively (``RedisTestServer/exclusive(_:)``):
/// every other Redis test holds it shared, so none of them runs while it is down.
@Suite("Redis engine: Redis killed mid-run", .serialized, .needs(.redis))
struct RedisOutageTests {
    @Test("Redis killed mid-run: the spool takes over, then replays; nothing lost or doubled")
    func killedMidRun() async throws {
        try await RedisTestServer.exclusive {
            try await Fixtures.$namespace.withValue("n\(UInt32.random(in: .min ... .max))") {
                let check = try RedisTestServer.client()
                // Redis's own fsync policy is not under test: make every acknowledged write durable.
                _ = try await check.execute(GenericCommand("CONFIG", "SET", "appendfsync", "always"))
                let spoolPath = NSTemporaryDirectory() + "switchyard-outage-\(UUID().uuidString).spool"
                defer { try? FileManager.default.removeItem(atPath: spoolPath) }
                let (router, engine) = redisRouter(.init(spool: .init(path: spoolPath), spoolRetryInterval: .milliseconds(100)))
                let channel = Fixtures.channel("test:outage")
                let total = 600
                var ids: [EventID] = []
                var spooled = 0
                do {
                    for n in 0..<total {
                        if n == 200 { try await RedisServerControl.kill() }
                        if n == 400 { try await RedisServerControl.restart() }
                        let id = EventID.generate()
                        ids.append(id)
                        let receipt = try await router.publish(to: channel, payload: Fixtures.payload(n), eventID: id)
                        if receipt.streamID == RedisEngine.spooledPosition { spooled += 1 }
                        if n == 399 { #expect(try await engine.spoolDepth > 0) }
                        // Paces the load, so the publishes spread over the outage and the restart.
                        if n % 20 == 0 { try await Task.sleep(for: .milliseconds(5)) }
                    }
                } catch {
                    if try await !RedisServerControl.isUp() { try await RedisServerControl.restart() }
                    throw error
                }
                #expect(spooled >= 200, "every publish from the kill to the restart was spooled")
                #expect(try await eventually(timeout: .seconds(20)) { try await engine.spoolDepth == 0 })
                let stored = try await engine.read(channel, from: .beginning, limit: 10_000).map(\.envelope)
                #expect(stored.count == total)
                #expect(stored.map(\.eventID) == ids, "every event once, in publish order")
                #expect(stored.map(\.sequenceNumber) == Array(1...Int64(total)))
                #expect(zip(stored, stored.dropFirst()).allSatisfy { $0.timestamp <= $1.timestamp })
                #expect(try await router.info(channel).lastSequenceNumber == Int64(total))
            }
        }
    }
}

/// Kills and restarts the redis-server of `scripts/test`, through RedisTestSupport's ``RedisServerProcess``.
enum RedisServerControl {
    static var configPath: String {
        get throws { try TestEnvironment.value("REDIS_CONF") }
    }

    static func kill() async throws {
        try RedisServerProcess.kill(configPath: try configPath)
        #expect(try await eventually(timeout: .seconds(5)) { !(try await isUp()) })
    }

    /// Starts `redis-server $REDIS_CONF` (it writes its pidfile, so `scripts/test` stops it at the end) and waits for it.
    static func restart() async throws {
        try await RedisServerProcess.start(configPath: try configPath, configuration: try RedisConfiguration(url: try RedisTestServer.requireURL()))
    }

    static func isUp() async throws -> Bool {
        await RedisServerProcess.answersPing(configuration: try RedisConfiguration(url: try RedisTestServer.requireURL()))
    }
}
