import JSONSchema
import Logging
import NIOCore
import RedisClient
import RedisTestSupport
import Switchyard
import RedisTestSupport
import Testing

/// Signed events on critical channels, on both engines: the router signs at publish, consumer
/// groups verify, and what does not verify is dead-lettered with its reason.
@Suite("Signed events", .needs(.redis))
struct SignedEventsTests {
    static let k1 = try! SecretKey(id: "k1", secret: Array(repeating: 0x11, count: 32))
    static let k2 = try! SecretKey(id: "k2", secret: Array(repeating: 0x22, count: 32))
    /// The id `k1` with another secret: what an attacker who guessed the key id would sign with.
    static let forgedK1 = try! SecretKey(id: "k1", secret: Array(repeating: 0x33, count: 32))

    static func ring(_ keys: SecretKey...) -> KeyRing { try! KeyRing(keys, purpose: .signing) }

    /// A router on `engine` whose `test:*` channels are critical, with these signing keys.
    static func router(_ engine: any Engine, keys: KeyRing?, source: String = "tests", audit: AuditTrail? = nil) -> Router {
        Router(
            contracts: Fixtures.contracts, engine: engine,
            configuration: RouterConfiguration(
                source: source, enforcesRateLimits: false,
                policyOverrides: [.init(Fixtures.pattern("test:*"), ChannelPolicy(retentionSeconds: 3600, critical: true))],
                signingKeys: keys, audit: audit),
            logger: Logger(label: "test.signed"))
    }

    /// An event appended behind the router's back, as any writer of the stream could.
    static func forged(_ channel: ChannelName, data: JSONValue, metadata: JSONObject = [:], eventID: EventID = .generate()) -> AppendRequest {
        AppendRequest(
            eventID: eventID, channel: channel, timestamp: .now(), source: "intruder", schema: "test:*@1", data: data, metadata: metadata,
            rules: AppendRules(retention: .seconds(3600), dedupWindow: .seconds(300), rateLimit: nil))
    }

    /// Runs a consumer group with `keys` until `handled` events were handled and `dead` dead-lettered.
    static func consume(
        _ engine: any Engine, keys: KeyRing?, channel: ChannelName, handled: Int, dead: Int, audit: AuditTrail? = nil
    ) async throws -> (handled: [Envelope], deadLetters: [DeadLetter]) {
        try await router(engine, keys: keys, source: "risk", audit: audit).consumed(group: "risk", channel: channel, handled: handled, dead: dead)
    }

    @Test("valid signatures pass; tampered, unsigned, unknown-key and forged ones are dead-lettered with the reason", arguments: EngineKind.all)
    func refusals(kind: EngineKind) async throws {
        try await kind.isolated {
            let engine = kind.make(SystemClock(), 1_000_000)
            let channel = Fixtures.channel("test:signed")
            let publisher = Self.router(engine, keys: Self.ring(Self.k1))
            try await publisher.publish(to: channel, payload: Fixtures.payload(1))
            _ = try await engine.append([Self.forged(channel, data: Fixtures.payload(2))])
            // A signature made for one payload, stored with another.
            let id = EventID.generate()
            let signature = EventSigner(keys: Self.ring(Self.k1)).signature(
                eventID: id, channel: channel, source: "intruder", schema: "test:*@1", data: Fixtures.payload(3), metadata: [:])
            _ = try await engine.append([Self.forged(channel, data: Fixtures.payload(30), metadata: ["signature": signature], eventID: id)])
            try await Self.router(engine, keys: Self.ring(Self.k2)).publish(to: channel, payload: Fixtures.payload(4))
            try await Self.router(engine, keys: Self.ring(Self.forgedK1)).publish(to: channel, payload: Fixtures.payload(5))
            try await publisher.publish(to: channel, payload: Fixtures.payload(6))

            let (handled, letters) = try await Self.consume(engine, keys: Self.ring(Self.k1), channel: channel, handled: 2, dead: 4)
            #expect(handled.map { $0.data["n"] } == [1, 6])
            #expect(handled.allSatisfy { $0.metadata["signature"]?["key_id"] == "k1" })
            #expect(letters.map { $0.envelope.data["n"] } == [2, 30, 4, 5])
            #expect(letters.map { $0.error["error_type"]?.stringValue } == ["unsigned_event", "invalid_signature", "unknown_signing_key", "invalid_signature"])
            #expect(letters.allSatisfy { $0.group == "risk" && $0.deliveries == 1 }, "refused at the first delivery, never retried")
            #expect(letters[2].error["details"]?["key_id"] == "k2")
        }
    }

    @Test("rotation: the newest key signs, a consumer holding both verifies either, one holding only the old refuses the new", arguments: EngineKind.all)
    func rotation(kind: EngineKind) async throws {
        try await kind.isolated {
            let engine = kind.make(SystemClock(), 1_000_000)
            let channel = Fixtures.channel("test:rotated")
            try await Self.router(engine, keys: Self.ring(Self.k1)).publish(to: channel, payload: Fixtures.payload(1))
            let rotated = Self.router(engine, keys: Self.ring(Self.k2, Self.k1))
            try await rotated.publish(to: channel, payload: Fixtures.payload(2))
            #expect(try await rotated.latest(channel)?.metadata["signature"]?["key_id"] == "k2", "the newest key signs")

            let both = try await Self.consume(engine, keys: Self.ring(Self.k2, Self.k1), channel: channel, handled: 2, dead: 0)
            #expect(both.handled.map { $0.data["n"] } == [1, 2])
            #expect(both.handled.map { $0.metadata["signature"]?["key_id"] } == ["k1", "k2"])
            #expect(both.deadLetters.isEmpty)

            let other = Fixtures.channel("test:rotated2")
            try await Self.router(engine, keys: Self.ring(Self.k1)).publish(to: other, payload: Fixtures.payload(1))
            try await rotated.publish(to: other, payload: Fixtures.payload(2))
            let oldOnly = try await Self.consume(engine, keys: Self.ring(Self.k1), channel: other, handled: 1, dead: 1)
            #expect(oldOnly.handled.map { $0.data["n"] } == [1])
            #expect(oldOnly.deadLetters.map { $0.error["error_type"] } == ["unknown_signing_key"])
        }
    }

    @Test("channels that are not critical are neither signed nor checked; a consumer without keys checks nothing", arguments: EngineKind.all)
    func nonCritical(kind: EngineKind) async throws {
        try await kind.isolated {
            let engine = kind.make(SystemClock(), 1_000_000)
            let plain = Router(
                contracts: Fixtures.contracts, engine: engine,
                configuration: RouterConfiguration(source: "tests", enforcesRateLimits: false, signingKeys: Self.ring(Self.k1)),
                logger: Logger(label: "test.signed"))
            let channel = Fixtures.channel("test:plain")
            try await plain.publish(to: channel, payload: Fixtures.payload(1))
            #expect(try await plain.latest(channel)?.metadata["signature"] == nil)
            _ = try await engine.append([Self.forged(channel, data: Fixtures.payload(2))])
            let seen = Collector()
            try await plain.withConsumer(group: "g", patterns: [Fixtures.pattern(channel.rawValue)], options: ConsumerOptions(blockTimeout: .milliseconds(50)), handler: { seen.record($0) }) {
                let both = try await eventually { seen.count == 2 }
                #expect(both)
            }
            let critical = Fixtures.channel("test:unchecked")
            _ = try await engine.append([Self.forged(critical, data: Fixtures.payload(3))])
            let unchecked = try await Self.consume(engine, keys: nil, channel: critical, handled: 1, dead: 0)
            #expect(unchecked.handled.count == 1)
        }
    }

    @Test("an envelope changed in Redis itself is refused")
    func changedInRedis() async throws {
        try await EngineKind.redis.isolated {
            let engine = EngineKind.redis.make(SystemClock(), 1_000_000)
            let channel = Fixtures.channel("test:raw")
            try await Self.router(engine, keys: Self.ring(Self.k1)).publish(to: channel, payload: Fixtures.payload(1, publisher: 7))
            let client = try RedisTestServer.client()
            let key = "stream:{\(channel.rawValue)}"
            let entries = try await client.execute(XRANGE(key))
            let text = String(buffer: try #require(entries.first?[field: "envelope"]))
            #expect(text.contains(#""publisher":7"#))
            // Someone with write access to Redis changes the payload and appends the copy.
            _ = try await client.execute(GenericCommand("XADD", key, "*", "envelope", text.replacingOccurrences(of: #""publisher":7"#, with: #""publisher":8"#)))
            let (handled, letters) = try await Self.consume(engine, keys: Self.ring(Self.k1), channel: channel, handled: 1, dead: 1)
            #expect(handled.map { $0.data["publisher"] } == [7])
            #expect(letters.map { $0.error["error_type"] } == ["invalid_signature"])
            #expect(letters.first?.envelope.data["publisher"] == 8)
        }
    }
}
