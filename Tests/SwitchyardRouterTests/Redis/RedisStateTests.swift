import Foundation
import JSONSchema
import Logging
import RedisClient
import Switchyard
import SwitchyardRedis
import RedisTestSupport
import Testing

/// State keys on Redis are plain string keys any client reads: seed 001's components keep their
/// `redis.get('position:snapshot')`.
@Suite("Redis engine: state keys", .needs(.redis, .python))
struct RedisStateTests {
    static func router(_ engine: RedisEngine) -> Router {
        Router(contracts: Fixtures.contracts, engine: engine, configuration: RouterConfiguration(source: "tests", enforcesRateLimits: false), logger: Logger(label: "test.router"))
    }

    /// Whether `ttl` (what Redis's `TTL` answered) is 3600 less at most the whole seconds that
    /// passed since `start`, plus one for the rounding: the seed's value, on a loaded machine too.
    static func isHourTTL(_ ttl: Int, since start: ContinuousClock.Instant) -> Bool {
        let elapsed = Int((ContinuousClock.now - start).components.seconds)
        return ttl <= 3600 && ttl >= 3599 - elapsed
    }

    @Test("a set is a plain key with the seed's TTL: GET returns the JSON, TTL shows 3600, config:* shows -1")
    func plainKeys() async throws {
        try await EngineKind.redis.isolated {
            let router = Self.router(RedisTestServer.makeEngine(configuration: .init()))
            let client = try RedisTestServer.client()
            let snapshot: JSONValue = ["timestamp": "2024-05-12T14:00:00Z", "wallet": ["ETH": 10.5], "cex_accounts": [:], "perp_positions": [:]]
            let start = ContinuousClock.now
            try await router.state.set(try StateKey("position:snapshot"), snapshot)
            let text = try #require(try await client.execute(GET("position:snapshot")))
            #expect(try JSONValue(parsing: text.readableBytesView) == snapshot)
            let ttl = try await client.execute(TTL("position:snapshot"))
            #expect(Self.isHourTTL(ttl, since: start), "TTL \(ttl)")

            try await router.state.set(try StateKey("config:strategy"), ["mode": "pure_lending"])
            #expect(try await client.execute(TTL("config:strategy")) == -1)
            #expect(try await router.state.get(try StateKey("config:strategy"))?.remaining == nil)

            // A value another client wrote is read back, with what is left of its TTL.
            _ = try await client.execute(SET("cache:prices:btc:current", value: #"{"price": 97000.5}"#, expiration: .seconds(60)))
            let price = try #require(try await router.state.get(try StateKey("cache:prices:btc:current")))
            #expect(price.value == ["price": 97000.5])
            #expect(price.remaining.map { $0 > .seconds(58) && $0 <= .seconds(60) } == true)
        }
    }

    @Test("publish.lua sets the key with the event, in one script; an unchanged Python component reads it with redis.get")
    func publishAndSetReadFromPython() async throws {
        try await EngineKind.redis.isolated {
            let router = Self.router(RedisTestServer.makeEngine(configuration: .init()))
            let channel = Fixtures.channel("test:position.updated")
            let value: JSONValue = ["timestamp": "2024-05-12T14:00:00Z", "net_delta_eth": -5.12]
            let start = ContinuousClock.now
            let receipt = try await router.publish(
                to: channel, payload: Fixtures.payload(1), state: StateWrite(key: try StateKey("exposure:current"), value: value))
            #expect(receipt.sequenceNumber == 1)
            let client = try RedisTestServer.client()
            #expect(Self.isHourTTL(try await client.execute(TTL("exposure:current")), since: start))

            let probe = try await PythonInteropTests.run(["-c", "import redis"])
            try #require(probe.status == 0, "redis-py is missing for '\(PythonInteropTests.python)'")
            let script = """
                import json, sys, redis
                r = redis.Redis.from_url(sys.argv[1])
                print(json.dumps({"value": json.loads(r.get('exposure:current')), "ttl": r.ttl('exposure:current')}))
                """
            let result = try await PythonInteropTests.run(["-c", script, try RedisTestServer.requireURL()])
            #expect(result.status == 0, "\(result.errors)")
            let answer = try JSONValue(parsing: result.output.trimmingCharacters(in: .whitespacesAndNewlines))
            #expect(answer["value"] == value)
            #expect(answer["ttl"]?.doubleValue.map { Self.isHourTTL(Int($0), since: start) } == true, "\(answer)")
        }
    }
}
