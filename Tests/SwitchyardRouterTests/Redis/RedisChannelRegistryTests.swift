import Foundation
import JSONSchema
import Logging
import Metrics
import MetricsTestKit
import NIOCore
import RedisClient
import RedisTestSupport
import Switchyard
import SwitchyardRedis
import RedisTestSupport
import Testing

/// The channel registry (`switchyard:channels`): publishers register their channels, pattern
/// lookups read it, and one keyspace scan per engine runs at its first lookup and then rarely,
/// registering streams that other writers made without registering them.
@Suite("Redis engine: the channel registry", .needs(.redis))
struct RedisChannelRegistryTests {
    static func isMember(_ channel: ChannelName, _ check: RedisClient) async throws -> Bool {
        try await check.execute(GenericCommand("SISMEMBER", RedisEngine.channelRegistryKey, channel.rawValue)).int == 1
    }

    @Test("a publish registers its channel, a pattern lookup finds it there, and a stream made behind the engines' back is registered by a keyspace scan")
    func publishesRegisterTheirChannels() async throws {
        try await EngineKind.redis.isolated {
            let check = try RedisTestServer.client()
            let publisher = RedisTestServer.makeEngine(configuration: .init())
            let metrics = TestMetrics()
            let consumer = withMetricsFactory(metrics) { RedisTestServer.makeEngine(configuration: .init(keyspaceScanInterval: nil)) }
            let pattern = Fixtures.pattern("test:reg.*")
            // The first look scans the keyspace; there is nothing yet.
            #expect(try await consumer.channels(matching: [pattern]).isEmpty)

            let registered = Fixtures.channel("test:reg.published")
            _ = try await publisher.append([RedisEngineReadTests.request(registered, at: 1_800_000_000_000)])
            #expect(try await Self.isMember(registered, check))
            #expect(try await consumer.channels(matching: [pattern]) == [registered])

            // A stream written behind the engines' back is found by the next keyspace scan of any
            // engine (here a fresh engine's first lookup), which registers it for every engine.
            // (Engines of tests running alongside may scan first: the registry is shared.)
            let unregistered = Fixtures.channel("test:reg.raw")
            _ = try await check.execute(GenericCommand("XADD", "stream:{\(unregistered.rawValue)}", "*", "envelope", "{}"))
            let fresh = RedisTestServer.makeEngine(configuration: .init())
            #expect(try await fresh.channels(matching: [pattern]) == [unregistered, registered].sorted())
            #expect(try await Self.isMember(unregistered, check))
            #expect(try await consumer.channels(matching: [pattern]) == [unregistered, registered].sorted())
            #expect(try metrics.expectCounter("switchyard_keyspace_scans_total", [("engine", "redis")]).totalValue == 1, "the consumer scanned once")
        }
    }

    @Test("distinct new patterns cost no keyspace scan beyond the engine's periodic one, and see what it found")
    func newPatternsDoNotScan() async throws {
        try await EngineKind.redis.isolated {
            let check = try RedisTestServer.client()
            let raw = Fixtures.channel("test:flood.raw")
            _ = try await check.execute(GenericCommand("XADD", "stream:{\(raw.rawValue)}", "*", "envelope", "{}"))
            let metrics = TestMetrics()
            let engine = withMetricsFactory(metrics) { RedisTestServer.makeEngine(configuration: .init()) }
            let router = Router(
                contracts: Fixtures.contracts, engine: engine, configuration: RouterConfiguration(source: "tests"),
                logger: .init(label: "test.registry"))
            for _ in 0..<50 {
                let random = Fixtures.pattern("test:x\(UInt64.random(in: .min ... .max))*")
                #expect(try await router.replay(random, limit: 10).isEmpty)
            }
            #expect(try metrics.expectCounter("switchyard_keyspace_scans_total", [("engine", "redis")]).totalValue == 1)
            // A pattern first seen after the scan still finds the stream another writer made.
            #expect(try await engine.channels(matching: [Fixtures.pattern("test:flood.*")]) == [raw])
            #expect(try await Self.isMember(raw, check))
            #expect(try metrics.expectCounter("switchyard_keyspace_scans_total", [("engine", "redis")]).totalValue == 1)
        }
    }

    @Test("a due keyspace scan finds streams made after the first look")
    func theScanRunsAgainWhenDue() async throws {
        try await EngineKind.redis.isolated {
            let check = try RedisTestServer.client()
            let consumer = RedisTestServer.makeEngine(configuration: .init(keyspaceScanInterval: .milliseconds(200)))
            let pattern = Fixtures.pattern("test:rescan.*")
            #expect(try await consumer.channels(matching: [pattern]).isEmpty)
            let raw = Fixtures.channel("test:rescan.raw")
            _ = try await check.execute(GenericCommand("XADD", "stream:{\(raw.rawValue)}", "*", "envelope", "{}"))
            #expect(try await eventually { try await consumer.channels(matching: [pattern]) == [raw] }, "the next scan, due after 200 ms, finds it")
            #expect(try await Self.isMember(raw, check))
        }
    }

    @Test("a consumer group following a pattern picks up a channel that appears later, through the registry")
    func aGroupFindsALaterChannel() async throws {
        try await EngineKind.redis.isolated {
            let engine = RedisTestServer.makeEngine(configuration: .init(keyspaceScanInterval: nil))
            let router = Router(
                contracts: Fixtures.contracts, engine: engine, configuration: RouterConfiguration(source: "tests"),
                logger: .init(label: "test.registry"))
            let seen = Collector()
            let options = ConsumerOptions(blockTimeout: .milliseconds(50))
            try await router.withConsumer(group: "registry", patterns: [Fixtures.pattern("test:later.*")], options: options, handler: { envelope in
                seen.record(envelope)
            }) {
                // The consumer's first look (and only keyspace scan) has run: this channel appears later.
                let channel = Fixtures.channel("test:later.one")
                for n in 1...3 { try await router.publish(to: channel, payload: Fixtures.payload(n)) }
                let all = try await eventually(timeout: .seconds(20)) { seen.count >= 3 }
                #expect(all, "got \(seen.envelopes.map(\.sequenceNumber))")
            }
            #expect(seen.envelopes.map(\.sequenceNumber) == [1, 2, 3])
        }
    }
}
