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

/// A router over a Redis engine made for one test.
func redisRouter(
    _ configuration: RedisEngine.Configuration = .init(), overrides: [RouterConfiguration.PolicyOverride] = [], clientName: String? = nil,
    url: String? = RedisTestServer.url
) -> (Router, RedisEngine) {
    let engine = RedisTestServer.makeEngine(url: url, configuration: configuration, clientName: clientName)
    let router = Router(
        contracts: Fixtures.contracts, engine: engine,
        configuration: RouterConfiguration(source: "tests", enforcesRateLimits: false, policyOverrides: overrides),
        logger: Logger(label: "test.router"))
    return (router, engine)
}

/// Reads a key as text with a plain client.
func text(_ client: RedisClient, _ key: String) async throws -> String? {
    try await client.execute(GET(key)).map { String(buffer: $0) }
}

@Suite("Redis engine: wire format and Redis-only behaviour", .needs(.redis, .python))
struct RedisEngineTests {
    @Test("keys and envelope are exactly the wire format, readable by any client")
    func wireFormat() async throws {
        try await EngineKind.redis.isolated {
            let (router, _) = redisRouter()
            let check = try RedisTestServer.client()
            let channel = Fixtures.channel("test:wire")
            let receipts = try await router.publish([
                PublishRequest(channel: channel, payload: ["n": 1, "note": "é \"quoted\""], metadata: ["user_id": "user_0001"]),
                PublishRequest(channel: channel, payload: Fixtures.payload(2)),
            ])
            #expect(receipts.map(\.sequenceNumber) == [1, 2])
            let entries = try await check.execute(XRANGE("stream:{\(channel.rawValue)}"))
            #expect(entries.map { $0.fields.map(\.name) } == [["envelope"], ["envelope"]])
            #expect(entries.map { StreamPosition(milliseconds: Int64($0.id.milliseconds), counter: $0.id.sequence) } == receipts.map(\.streamID))
            let stored = try Envelope(decoding: String(buffer: try #require(entries.first?[field: "envelope"])))
            #expect(stored.eventID == receipts[0].eventID && stored.sequenceNumber == 1 && stored.source == "tests")
            #expect(stored.timestamp == receipts[0].timestamp)
            #expect(stored.timestamp.unixMilliseconds == Int64(entries[0].id.milliseconds))
            #expect(stored.data["note"] == "é \"quoted\"" && stored.metadata["user_id"] == "user_0001")
            #expect(stored.encoded() == String(buffer: entries[0][field: "envelope"]!), "members in wire order, compact")
            #expect(try await text(check, "seq:{\(channel.rawValue)}") == "2")
            let latest = try #require(try await text(check, "latest:{\(channel.rawValue)}"))
            #expect(try Envelope(decoding: latest).sequenceNumber == 2)
            #expect(try await text(check, "dedup:{\(channel.rawValue)}:\(receipts[0].eventID)") != nil)

            try await router.engine.createGroup("g", on: channel, start: .beginning)
            let delivery = try #require(
                try await router.engine.readGroup(GroupReadRequest(group: "g", consumer: "c", channels: [channel], count: 1, block: nil)).first)
            try await router.engine.deadLetter(DeadLetterRequest(group: "g", delivery: delivery, error: SwitchyardError.validation(missing: ["price"], invalid: []).body, deliveries: 3))
            let letters = try await check.execute(XRANGE("dlq:{\(channel.rawValue)}"))
            #expect(letters.first?.fields.map(\.name) == ["envelope", "group", "error", "deliveries", "failed_at", "stream_id"])
            #expect(letters.first.map { String(buffer: $0[field: "group"]!) } == "g")
            #expect(try await router.engine.groupInfo("g", on: channel).pending == 0)
        }
    }

    @Test("sequence numbers of 10^14 and more are written as whole numbers, in the envelope and the dedup mark")
    func largeSequenceNumbersStayWholeNumbers() async throws {
        try await EngineKind.redis.isolated {
            let (router, _) = redisRouter()
            let check = try RedisTestServer.client()
            let channel = Fixtures.channel("test:large-sequence")
            // A channel whose counter stands just below 10^14, as if that many events had been numbered.
            #expect(try await check.execute(SET("seq:{\(channel.rawValue)}", value: "99999999999999")))
            let receipts = try await router.publish([
                PublishRequest(channel: channel, payload: Fixtures.payload(1)), PublishRequest(channel: channel, payload: Fixtures.payload(2)),
            ])
            #expect(receipts.map(\.sequenceNumber) == [100_000_000_000_000, 100_000_000_000_001])
            let entries = try await check.execute(XRANGE("stream:{\(channel.rawValue)}"))
            let stored = try entries.map { try Envelope(decoding: String(buffer: try #require($0[field: "envelope"]))) }
            #expect(stored.map(\.sequenceNumber) == [100_000_000_000_000, 100_000_000_000_001])
            #expect(String(buffer: try #require(entries.first?[field: "envelope"])).contains(#""sequence_number":100000000000000,"#))
            let mark = try #require(try await text(check, "dedup:{\(channel.rawValue)}:\(receipts[0].eventID)"))
            #expect(mark.hasPrefix("100000000000000 "), "the mark: \(mark)")
            let again = try await router.publish(PublishRequest(channel: channel, payload: Fixtures.payload(1), eventID: receipts[0].eventID))
            #expect(again.duplicate && again.sequenceNumber == 100_000_000_000_000, "a repeat finds the mark and its number")
        }
    }

    @Test("the live feed is PUBLISHed on the channel's own name, after it is stored")
    func livePublish() async throws {
        try await EngineKind.redis.isolated {
            let (router, engine) = redisRouter()
            let channel = Fixtures.channel("test:live")
            let live = try await engine.liveEvents(matching: [Fixtures.pattern("test:live")])
            try await router.publish(to: channel, payload: Fixtures.payload(7))
            let envelope = try await withTimeout(.seconds(60)) { await live.first { _ in true } }
            #expect(envelope?.sequenceNumber == 1 && envelope?.data["n"] == 7)
        }
    }

    @Test("the trim guard holds with a real group and the real clock")
    func trimGuard() async throws {
        try await EngineKind.redis.isolated {
            let policy = ChannelPolicy(retentionSeconds: 1)
            let (router, engine) = redisRouter(overrides: [.init(Fixtures.pattern("test:*"), policy)])
            let channel = Fixtures.channel("test:guard")
            try await engine.createGroup("slow", on: channel, start: .beginning)
            for n in 0..<5 { try await router.publish(to: channel, payload: Fixtures.payload(n)) }
            // The retention (1 s) passing on the real clock is what the test is about.
            try await Task.sleep(for: .milliseconds(1100))
            try await router.publish(to: channel, payload: Fixtures.payload(5))
            #expect(try await router.info(channel).length == 6, "nothing was delivered to 'slow': nothing is trimmed")
            let delivered = try await engine.readGroup(GroupReadRequest(group: "slow", consumer: "c", channels: [channel], count: 3, block: nil))
            #expect(delivered.map(\.envelope.sequenceNumber) == [1, 2, 3])
            try await router.publish(to: channel, payload: Fixtures.payload(6))
            let info = try await router.info(channel)
            #expect(info.firstSequenceNumber == 4 && info.trimmedUndelivered == 0)
            let group = try await engine.groupInfo("slow", on: channel)
            #expect(group.pending == 3 && group.lag == 4)
        }
    }

    @Test("with failFast, a publish is refused at once when Redis is unreachable")
    func failFast() async throws {
        try await EngineKind.redis.isolated {
            let port = try await unusedPort()
            var redis = try RedisConfiguration(url: "redis://127.0.0.1:\(port)")
            redis.connectTimeout = .seconds(30)
            redis.reconnect.initialDelay = .seconds(30)
            let spoolPath = NSTemporaryDirectory() + "switchyard-failfast-\(UUID().uuidString).spool"
            defer { try? FileManager.default.removeItem(atPath: spoolPath) }
            let engine = RedisEngine(
                client: try RedisClient(configuration: redis, logger: Logger(label: "test.redis")),
                configuration: .init(spool: .init(path: spoolPath), failFast: true), logger: Logger(label: "test.engine"))
            let router = Router(
                contracts: Fixtures.contracts, engine: engine, configuration: RouterConfiguration(source: "tests"), logger: Logger(label: "test.router"))
            let started = ContinuousClock.now
            let error = await #expect(throws: SwitchyardError.self) {
                try await router.publish(to: Fixtures.channel("test:failfast"), payload: Fixtures.payload(1))
            }
            #expect(error?.code == .engineUnavailable)
            #expect(ContinuousClock.now - started < .seconds(10), "refused without waiting out the 30-second connect and reconnect delays")
            #expect(try await engine.spoolDepth == 0)
        }
    }

    @Test("without a spool, an unreachable Redis refuses the publish; with one, it is spooled and counted")
    func spoolWhileUnreachable() async throws {
        try await EngineKind.redis.isolated {
            let port = try await unusedPort()
            let redis = try RedisConfiguration(url: "redis://127.0.0.1:\(port)")
            let spoolPath = NSTemporaryDirectory() + "switchyard-unreachable-\(UUID().uuidString).spool"
            defer { try? FileManager.default.removeItem(atPath: spoolPath) }
            let bare = RedisEngine(client: try RedisClient(configuration: redis, logger: Logger(label: "t")), logger: Logger(label: "t"))
            let request = AppendRequest(
                eventID: .generate(), channel: Fixtures.channel("test:unreachable"), timestamp: .now(), source: "tests", schema: "test:*@1",
                data: Fixtures.payload(1), rules: AppendRules(retention: .seconds(60), dedupWindow: .seconds(300), rateLimit: nil))
            let refused = await #expect(throws: SwitchyardError.self) { try await bare.append([request]) }
            #expect(refused?.code == .engineUnavailable)

            let metrics = TestMetrics()
            let spooling = try withMetricsFactory(metrics) {
                RedisEngine(
                    client: try RedisClient(configuration: redis, logger: Logger(label: "t")),
                    configuration: .init(spool: .init(path: spoolPath, maxEvents: 2)), logger: Logger(label: "t"))
            }
            let receipts = try await spooling.append([request, request])
            #expect(receipts.allSatisfy { $0.status == .spooled && $0.streamID == RedisEngine.spooledPosition && $0.sequenceNumber == nil })
            #expect(try await spooling.spoolDepth == 2)
            #expect(try metrics.expectGauge("switchyard_spool_depth", [("engine", "redis")]).lastValue == 2)
            let full = await #expect(throws: SwitchyardError.self) { try await spooling.append([request]) }
            #expect(full?.code == .spoolFull)
            let lines = try String(contentsOfFile: spoolPath, encoding: .utf8).split(separator: "\n")
            #expect(lines.count == 2)
        }
    }

    @Test("a batch over several channels refused by one channel's rate limit stores nothing")
    func batchRateLimit() async throws {
        try await EngineKind.redis.isolated {
            let policy = ChannelPolicy(retentionSeconds: 60, rateLimit: .init(perSecond: 1, burst: 3))
            let clock = ManualClock()
            let engine = RedisTestServer.makeEngine(clock: clock, configuration: .init())
            let router = Router(
                contracts: Fixtures.contracts, engine: engine,
                configuration: RouterConfiguration(source: "tests", policyOverrides: [.init(Fixtures.pattern("test:*"), policy)], clock: clock),
                logger: Logger(label: "test.router"))
            let (a, b) = (Fixtures.channel("test:batch.a"), Fixtures.channel("test:batch.b"))
            try await router.publish((0..<3).map { PublishRequest(channel: b, payload: Fixtures.payload($0)) })
            let batch = [PublishRequest(channel: a, payload: Fixtures.payload(1)), PublishRequest(channel: b, payload: Fixtures.payload(9))]
            let error = await #expect(throws: SwitchyardError.self) { try await router.publish(batch) }
            #expect(error?.code == .rateLimited && error?.details["channel"] == .string(b.rawValue))
            #expect(try await router.info(a).length == 0)
            #expect(try await router.info(b).length == 3)
        }
    }

    @Test("after the subscription connection drops, live events are backfilled from the stream without a gap")
    func liveGapBackfill() async throws {
        try await EngineKind.redis.isolated {
            let name = "gap-\(UUID().uuidString.prefix(8))"
            let (router, engine) = redisRouter(clientName: name)
            let check = try RedisTestServer.client()
            let channel = Fixtures.channel("test:gap")
            let live = try await engine.liveEvents(matching: [Fixtures.pattern("test:gap")])
            let received = try await withTimeout(.seconds(60)) {
                try await withThrowingTaskGroup(of: [Int64].self) { group in
                    group.addTask {
                        var numbers: [Int64] = []
                        for await envelope in live {
                            numbers.append(envelope.sequenceNumber)
                            if envelope.sequenceNumber == 40 { break }
                        }
                        return numbers
                    }
                    for n in 1...40 {
                        if n == 11 { try await killSubscriptionConnection(named: name, using: check) }
                        try await router.publish(to: channel, payload: Fixtures.payload(n))
                        if n == 20 {
                            // The rest go out once the subscription connection is back, so they arrive live.
                            #expect(try await eventually { try await subscriptionConnectionExists(named: name, using: check) })
                        }
                    }
                    return try await group.next() ?? []
                }
            }
            #expect(received == Array(1...40))
        }
    }


    @Test("a spool left by an earlier process (with a torn last line) is replayed in order when the engine runs")
    func spoolFromEarlierProcess() async throws {
        try await EngineKind.redis.isolated {
            let spoolPath = NSTemporaryDirectory() + "switchyard-restart-\(UUID().uuidString).spool"
            defer { try? FileManager.default.removeItem(atPath: spoolPath) }
            let channel = Fixtures.channel("test:restart")
            let unreachable = try RedisConfiguration(url: "redis://127.0.0.1:\(try await unusedPort())")
            let earlier = RedisEngine(
                client: try RedisClient(configuration: unreachable, logger: Logger(label: "t")),
                configuration: .init(spool: .init(path: spoolPath)), logger: Logger(label: "t"))
            let requests = (1...5).map { n in
                AppendRequest(
                    eventID: .generate(), channel: channel, timestamp: .now(), source: "tests", schema: "test:*@1",
                    data: Fixtures.payload(n), rules: AppendRules(retention: .seconds(60), dedupWindow: .seconds(300), rateLimit: nil))
            }
            _ = try await earlier.append(Array(requests.prefix(3)))
            _ = try await earlier.append(Array(requests.suffix(2)))
            let torn = try FileHandle(forWritingTo: URL(fileURLWithPath: spoolPath))
            try torn.seekToEnd()
            try torn.write(contentsOf: Data("{\"event_id\":\"0193".utf8))
            try torn.close()

            let (router, later) = redisRouter(.init(spool: .init(path: spoolPath), spoolRetryInterval: .milliseconds(50)))
            #expect(try await eventually { try await later.spoolDepth == 0 })
            let stored = try await later.read(channel, from: .beginning, limit: 10).map(\.envelope)
            #expect(stored.map(\.eventID) == requests.map(\.eventID))
            #expect(stored.map(\.sequenceNumber) == [1, 2, 3, 4, 5])
            #expect(try String(contentsOfFile: spoolPath, encoding: .utf8).isEmpty)
            #expect(try await router.publish(to: channel, payload: Fixtures.payload(6)).sequenceNumber == 6)
        }
    }

}

/// Closes, on the server side, the pub/sub connection of the client named `name` (and only that one,
/// so tests running alongside keep theirs).
func killSubscriptionConnection(named name: String, using client: RedisClient) async throws {
    let list = try await client.execute(GenericCommand("CLIENT", "LIST", "TYPE", "pubsub")).string ?? ""
    let line = try #require(list.split(separator: "\n").first { $0.contains(" name=\(name) ") })
    let id = try #require(line.split(separator: " ").first { $0.hasPrefix("id=") }?.dropFirst(3))
    _ = try await client.execute(GenericCommand("CLIENT", "KILL", "ID", String(id)))
}

/// Whether the client named `name` has its pub/sub connection open on the server.
func subscriptionConnectionExists(named name: String, using client: RedisClient) async throws -> Bool {
    let list = try await client.execute(GenericCommand("CLIENT", "LIST", "TYPE", "pubsub")).string ?? ""
    return list.split(separator: "\n").contains { $0.contains(" name=\(name) ") }
}

/// A loopback port with nothing listening on it.
func unusedPort() async throws -> Int {
    let result = try await runProgram(
        "/usr/bin/env", ["python3", "-c", "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1]); s.close()"])
    return try #require(Int(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
}
