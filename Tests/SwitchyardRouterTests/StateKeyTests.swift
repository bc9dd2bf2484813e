import JSONSchema
import Logging
import Metrics
import MetricsTestKit
import Switchyard
import Testing

/// Named state keys: the shipped table, the checks, expiry, publish-and-set and the read metrics.
@Suite("State keys")
struct StateKeyTests {
    /// `test:*` (60 s), `test:*.snap` (1 h, `n` must be an integer), `test:*.config` (no expiry).
    static let table: StateKeyRegistry = try! StateKeyRegistry([
        try! StateKeyEntry(key: try! ChannelPattern("test:*"), ttl: .seconds(60)),
        try! StateKeyEntry(
            key: try! ChannelPattern("test:*.snap"), ttl: .seconds(3600),
            schema: ["type": "object", "properties": ["n": ["type": "integer"], "wallet": ["type": "object"]]]),
        try! StateKeyEntry(key: try! ChannelPattern("test:*.config"), ttl: nil),
    ])

    static func router(
        _ kind: EngineKind, clock: any SwitchyardClock = SystemClock(), rateLimits: Bool = false, allowsUnknown: Bool = false,
        metrics: (any MetricsFactory)? = nil, table: StateKeyRegistry = table
    ) -> Router {
        var configuration = RouterConfiguration(
            source: "tests", enforcesRateLimits: rateLimits, allowsUnknownChannels: allowsUnknown, clock: clock, metricsFactory: metrics)
        configuration.stateKeys = table
        return Router(contracts: Fixtures.contracts, engine: kind.make(clock, 1_000_000), configuration: configuration, logger: Logger(label: "test.router"))
    }

    @Test("the shipped table: seed 001's keys and TTLs, seed 002's cache keys, the most specific entry wins")
    func shippedTable() throws {
        let table = try StateKeyRegistry.shipped()
        func ttl(_ key: String) throws -> Duration?? { table.entry(for: try StateKey(key)).map(\.ttl) }
        for key in ["position:snapshot", "exposure:current", "risk:current", "pnl:current", "strategy:rebalancing"] {
            #expect(try ttl(key) == .some(.seconds(3600)), "\(key)")
        }
        #expect(try ttl("events:history") == .some(.seconds(86_400)))
        #expect(try ttl("pnl:hourly_series") == .some(.seconds(86_400)))
        for key in ["config:strategy", "config:initial_state", "config:anything_else"] {
            #expect(try ttl(key) == .some(nil), "\(key) never expires")
        }
        #expect(try ttl("cache:prices:btc:current") == .some(.seconds(60)))
        #expect(try ttl("cache:trades:ord_42") == .some(.seconds(300)))
        #expect(try ttl("cache:trades:user_0001:active") == .some(.seconds(5)))
        #expect(try ttl("cache:positions:user_0001") == .some(.seconds(5)))
        #expect(try ttl("cache:settings:user_0001") == .some(.seconds(300)))
        #expect(try ttl("position:updated") == nil, "a channel name is not a state key")
        #expect(table.entry(for: try StateKey("cache:trades:user_0001:active"))?.key.rawValue == "cache:trades:*:active")

        let snapshot = try #require(table.entry(for: try StateKey("position:snapshot")))
        try snapshot.validate(["timestamp": "2024-05-12T14:00:00Z", "wallet": [:], "cex_accounts": [:], "perp_positions": [:]])
        try snapshot.validate([:])
        #expect(throws: SwitchyardError.self) { try snapshot.validate(["wallet": 5]) }
    }

    @Test("a broken table names every problem")
    func brokenTable() throws {
        let path = "/tmp/state-keys-\(UInt32.random(in: .min ... .max)).json"
        try #"{"keys":[{"key":"a:b","ttl":"soon"},{"key":"switchyard:channels","ttl":null},{"key":"c:d","ttl":"1h","schema":{"type":7}},{"key":"e:f"}]}"#
            .write(toFile: path, atomically: true, encoding: .utf8)
        let error = #expect(throws: ContractFolderError.self) { try StateKeyRegistry.load(from: path) }
        let locations = error?.problems.map(\.location) ?? []
        #expect(locations.count == 4, "\(locations)")
        #expect(locations.first == "/keys/0/ttl" && locations.dropFirst().first == "/keys/1/key" && locations.last == "/keys/3/ttl")
        #expect(locations.dropFirst(2).first?.hasPrefix("/keys/2/schema") == true)
    }

    @Test("set and get; unknown, reserved, oversized, schema-failing and credential-bearing values are refused", arguments: EngineKind.all)
    func setAndGet(kind: EngineKind) async throws {
        try await kind.isolated {
            let router = Self.router(kind)
            let key = Fixtures.channel("test:pos.snap")
            let receipt = try await router.state.set(key, ["n": 1, "wallet": ["eth": 2.5]])
            #expect(receipt.ttl == .seconds(3600))
            let value = try #require(try await router.state.get(key))
            #expect(value.value == ["n": 1, "wallet": ["eth": 2.5]])
            #expect(value.entry?.key.rawValue == "test:*.snap")
            #expect(value.remaining.map { $0 > .seconds(3590) && $0 <= .seconds(3600) } == true)
            #expect(try await router.state.get(Fixtures.channel("test:absent")) == nil)

            let unknown = await #expect(throws: SwitchyardError.self) { try await router.state.set(try StateKey("nowhere:key"), [:]) }
            #expect(unknown?.code == .unknownStateKey && unknown?.details["key"] == "nowhere:key")
            let reserved = await #expect(throws: SwitchyardError.self) { try await Self.router(kind, allowsUnknown: true).state.set(try StateKey("switchyard:channels"), 1) }
            #expect(reserved?.code == .invalidStateKey)
            let schema = await #expect(throws: SwitchyardError.self) { try await router.state.set(key, ["n": "one"]) }
            #expect(schema?.code == .validationError)
            #expect(schema?.body["details"]?["invalid_fields"]?["n"] != nil)
            #expect(schema?.body["details"]?["missing_fields"] == [])
            let big = await #expect(throws: SwitchyardError.self) {
                try await router.state.set(Fixtures.channel("test:big"), .string(String(repeating: "x", count: 1_048_577)))
            }
            #expect(big?.code == .payloadTooLarge)
            let secret = await #expect(throws: SwitchyardError.self) { try await router.state.set(Fixtures.channel("test:creds"), ["exchange": ["api_key": "k"]]) }
            #expect(secret?.code == .validationError && secret?.details["invalid_fields"]?["exchange.api_key"] != nil)
            #expect(try await router.state.get(key)?.value == ["n": 1, "wallet": ["eth": 2.5]], "refusals change nothing")

            let open = Self.router(kind, allowsUnknown: true)
            #expect(try await open.state.set(Fixtures.channel("other:\(Fixtures.namespace).k"), [1, 2]).ttl == StateStore.unknownKeyTTL)
            #expect(try await open.state.get(Fixtures.channel("other:\(Fixtures.namespace).k"))?.value == [1, 2])
        }
    }

    @Test("the embedded engine expires values on its clock; keys without TTL never expire")
    func embeddedExpiry() async throws {
        let clock = ManualClock()
        let router = Self.router(.embedded, clock: clock)
        let cache = try StateKey("test:price")
        let config = try StateKey("test:strategy.config")
        try await router.state.set(cache, ["price": 1])
        try await router.state.set(config, ["leverage": 2])
        clock.advance(by: .seconds(59))
        #expect(try await router.state.get(cache)?.remaining == .seconds(1))
        #expect(try await router.state.get(config)?.remaining == nil)
        clock.advance(by: .seconds(1))
        #expect(try await router.state.get(cache) == nil, "expired at its TTL on the engine's clock")
        clock.advance(by: .seconds(86_400 * 30))
        #expect(try await router.state.get(config)?.value == ["leverage": 2])
        try await router.state.set(cache, ["price": 2])
        #expect(try await router.state.get(cache)?.value == ["price": 2], "set again after expiry")
    }

    @Test("publish-and-set: the key is set only when the event is stored", arguments: EngineKind.all)
    func publishAndSet(kind: EngineKind) async throws {
        try await kind.isolated {
            let clock = ManualClock()
            let policy = ChannelPolicy(retentionSeconds: 60, rateLimit: .init(perSecond: 1, burst: 1))
            var configuration = RouterConfiguration(
                source: "tests", enforcesRateLimits: true, policyOverrides: [.init(Fixtures.pattern("test:*"), policy)], clock: clock)
            configuration.stateKeys = Self.table
            let router = Router(contracts: Fixtures.contracts, engine: kind.make(clock, 1_000_000), configuration: configuration, logger: Logger(label: "test.router"))
            let channel = Fixtures.channel("test:position.updated")
            let key = Fixtures.channel("test:position.snap")
            let id = EventID.generate()
            let first = try await router.publish(to: channel, payload: Fixtures.payload(1), eventID: id, state: StateWrite(key: key, value: ["n": 1]))
            #expect(first.sequenceNumber == 1)
            #expect(try await router.state.get(key)?.value == ["n": 1])
            #expect(try await router.state.get(key)?.remaining.map { $0 > .seconds(3590) } == true)

            let refused = await #expect(throws: SwitchyardError.self) {
                try await router.publish(to: channel, payload: ["note": "no n"], state: StateWrite(key: key, value: ["n": 2]))
            }
            #expect(refused?.code == .validationError)
            let limited = await #expect(throws: SwitchyardError.self) {
                try await router.publish(to: channel, payload: Fixtures.payload(3), state: StateWrite(key: key, value: ["n": 3]))
            }
            #expect(limited?.code == .rateLimited)
            #expect(try await router.state.get(key)?.value == ["n": 1], "refused and rate-limited publishes leave the key as it was")

            clock.advance(by: .seconds(2))
            let duplicate = try await router.publish(to: channel, payload: Fixtures.payload(1), eventID: id, state: StateWrite(key: key, value: ["n": 4]))
            #expect(duplicate.duplicate)
            #expect(try await router.state.get(key)?.value == ["n": 1], "a duplicate does not set the key: the first publish did")

            let badValue = await #expect(throws: SwitchyardError.self) {
                try await router.publish(to: channel, payload: Fixtures.payload(5), state: StateWrite(key: key, value: ["n": "five"]))
            }
            #expect(badValue?.code == .validationError)
            #expect(try await router.info(channel).lastSequenceNumber == 1, "a refused state value stores no event")

            clock.advance(by: .seconds(2))
            let second = try await router.publish(to: channel, payload: Fixtures.payload(6), state: StateWrite(key: key, value: ["n": 6]))
            #expect(second.sequenceNumber == 2)
            #expect(try await router.state.get(key)?.value == ["n": 6])
        }
    }

    @Test("reads are counted as hits and misses per family, writes per family", arguments: EngineKind.all)
    func metrics(kind: EngineKind) async throws {
        try await kind.isolated {
            let metrics = TestMetrics()
            let router = Self.router(kind, metrics: metrics)
            let key = Fixtures.channel("test:m.snap")
            _ = try await router.state.get(key)
            try await router.state.set(key, ["n": 1])
            _ = try await router.state.get(key)
            _ = try await router.state.get(key)
            try await router.publish(to: Fixtures.channel("test:m"), payload: Fixtures.payload(1), state: StateWrite(key: key, value: ["n": 2]))
            _ = try await router.state.get(Fixtures.channel("test:m.other"))
            let family = [("family", "test:*.snap")]
            #expect(try metrics.expectCounter("switchyard_state_reads_total", family + [("result", "hit")]).totalValue == 2)
            #expect(try metrics.expectCounter("switchyard_state_reads_total", family + [("result", "miss")]).totalValue == 1)
            #expect(try metrics.expectCounter("switchyard_state_writes_total", family).totalValue == 2)
            #expect(try metrics.expectCounter("switchyard_state_reads_total", [("family", "test:*"), ("result", "miss")]).totalValue == 1)
        }
    }
}
