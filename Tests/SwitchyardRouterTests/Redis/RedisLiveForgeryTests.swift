import Foundation
import Logging
import Metrics
import MetricsTestKit
import NIOCore
import RedisClient
import Switchyard
import SwitchyardRedis
import RedisTestSupport
import Testing

/// The live feed holds each message to the Pub/Sub channel it arrived on.
@Suite("Redis engine: forged live messages", .needs(.redis))
struct RedisLiveForgeryTests {
    @Test("an envelope PUBLISHed on another channel than its own is dropped and counted, and the real event still arrives")
    func forgedChannelIsDropped() async throws {
        try await EngineKind.redis.isolated {
            let metrics = TestMetrics()
            let engine = withMetricsFactory(metrics) { RedisTestServer.makeEngine(configuration: .init()) }
            let router = Router(
                contracts: Fixtures.contracts, engine: engine,
                configuration: RouterConfiguration(source: "tests", enforcesRateLimits: false), logger: Logger(label: "test.router"))
            let check = try RedisTestServer.client()
            let allowed = Fixtures.channel("test:forge.allowed")
            let victim = Fixtures.channel("test:forge.victim")
            let live = try await engine.liveEvents(matching: [Fixtures.pattern("test:forge.*")])

            // A client allowed to PUBLISH only on `allowed` sends the victim's next event.
            let forged = Envelope(
                eventID: .generate(), channel: victim, sequenceNumber: 1, timestamp: .now(), source: "attacker",
                schema: "test:*@1", data: ["n": 666])
            let receivers = try await check.execute(GenericCommand("PUBLISH", allowed.rawValue, forged.encoded()))
            #expect((receivers.int ?? 0) >= 1)
            try await router.publish(to: victim, payload: Fixtures.payload(1))

            let received = try await withTimeout(.seconds(60)) { await live.first { _ in true } }
            #expect(received?.channel == victim && received?.source == "tests" && received?.data["n"] == 1)
            #expect(try metrics.expectCounter("switchyard_live_forged_total", [("engine", "redis")]).totalValue == 1)
        }
    }
}
