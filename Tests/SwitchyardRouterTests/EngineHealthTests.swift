import Foundation
import Logging
import RedisClient
import Switchyard
import SwitchyardRedis
import RedisTestSupport
import Testing

/// What engines report about themselves, which `GET /readyz`, the heartbeat and `/metrics` ask for.
@Suite("Engines report their health")
struct EngineHealthTests {
    @Test("the embedded engine is always reachable and has no spool")
    func embedded() async {
        let engine = EmbeddedEngine(logger: Logger(label: "test.engine"))
        #expect(await engine.health() == EngineHealth(engine: "embedded", reachable: true))
    }

    @Test("the Redis engine is reachable while its server answers PING, and reports its spool", .needs(.redis))
    func redis() async throws {
        try await EngineKind.redis.isolated {
            let path = NSTemporaryDirectory() + "switchyard-health-spool-" + UUID().uuidString
            defer { try? FileManager.default.removeItem(atPath: path) }
            // The probe allows 2 s for a PING, a first connection included: on a machine as loaded as
            // the start of the whole suite that can pass, so the answer is asked for until it comes.
            let plain = RedisTestServer.makeEngine(configuration: .init())
            let plainHealth = EngineHealth(engine: "redis", reachable: true)
            let plainAnswered = try await eventually(timeout: .seconds(30)) { await plain.health() == plainHealth }
            #expect(plainAnswered)
            let spooled = RedisTestServer.makeEngine(configuration: .init(spool: Spool.Configuration(path: path)))
            let spooledHealth = EngineHealth(engine: "redis", reachable: true, spoolConfigured: true, spoolDepth: 0)
            let spooledAnswered = try await eventually(timeout: .seconds(30)) { await spooled.health() == spooledHealth }
            #expect(spooledAnswered)
        }
    }

    @Test("a Redis engine whose server does not answer reports itself unreachable within seconds")
    func unreachableRedis() async throws {
        let port = try Self.closedPort()
        var configuration = try RedisConfiguration(url: "redis://127.0.0.1:\(port)")
        configuration.connectTimeout = .milliseconds(500)
        let client = try RedisClient(configuration: configuration, logger: Logger(label: "test.redis"))
        let engine = RedisEngine(client: client, configuration: .init(), logger: Logger(label: "test.redis-engine"))
        let started = ContinuousClock.now
        let health = await engine.health()
        #expect(health.engine == "redis" && !health.reachable)
        #expect(ContinuousClock.now - started < .seconds(30), "the probe is bounded")
    }

    /// A loopback port nothing listens on.
    static func closedPort() throws -> Int {
        let socket = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                guard bind(socket, raw, length) == 0, getsockname(socket, raw, &length) == 0 else { throw POSIXError(.EADDRINUSE) }
            }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
