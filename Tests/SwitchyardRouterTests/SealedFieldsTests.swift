import Foundation
import JSONSchema
import Logging
import NIOCore
import RedisClient
import Switchyard
import SwitchyardRedis
import RedisTestSupport
import Testing

/// Sensitive fields sealed with AES-256-GCM before they leave the publisher, on both engines:
/// never stored in clear, opened for consumers with the key, sealed and marked for the others.
@Suite("Sealed fields")
struct SealedFieldsTests {
    static let e1 = try! SecretKey(id: "e1", secret: Array(repeating: 0x51, count: 32))
    static let e2 = try! SecretKey(id: "e2", secret: Array(repeating: 0x52, count: 32))
    static func ring(_ keys: SecretKey...) -> KeyRing { try! KeyRing(keys, purpose: .encryption) }

    static let account = "ACC-SECRET-7731"
    static let card = "4111111111111111"

    /// `test:*` with an account (which must start with `ACC-`) and a card number marked sensitive.
    static let contracts: ContractRegistry = {
        let schema: JSONValue = [
            "type": "object", "required": ["n", "account"],
            "properties": [
                "n": ["type": "integer"], "account": ["type": "string", "pattern": "^ACC-"],
                "card": ["type": "object", "properties": ["number": ["type": "string", "minLength": 12], "brand": ["type": "string"]]],
            ],
        ]
        return try! ContractRegistry([
            try! Contract(
                channel: try! ChannelPattern("test:*"), schema: schema, policy: ChannelPolicy(retentionSeconds: 3600),
                sensitiveFields: [try! SensitiveField("account"), try! SensitiveField("card.number")])
        ])
    }()

    static func payload(_ n: Int) -> JSONValue {
        ["n": .int(Int64(n)), "account": .string(account), "card": ["number": .string(card), "brand": "visa"]]
    }

    static func router(_ engine: any Engine, keys: KeyRing?, source: String = "payments") -> Router {
        Router(
            contracts: contracts, engine: engine,
            configuration: RouterConfiguration(source: source, enforcesRateLimits: false, encryptionKeys: keys),
            logger: Logger(label: "test.sealed"))
    }

    static func expectNoClearValue(_ text: String, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!text.contains(account) && !text.contains(card), "\(what) holds a sensitive value in clear", sourceLocation: sourceLocation)
    }

    /// The envelopes a consumer group with `keys` is handed.
    static func consume(_ engine: any Engine, keys: KeyRing?, channel: ChannelName, count: Int) async throws -> [Envelope] {
        try await router(engine, keys: keys, source: "reader").consumed(group: "g\(UInt32.random(in: .min ... .max))", channel: channel, handled: count).handled
    }

    @Test("checked in clear, stored sealed, opened with the key, sealed and marked without", arguments: EngineKind.all)
    func sealedAtRest(kind: EngineKind) async throws {
        try await kind.isolated {
            let engine = kind.make(SystemClock(), 1_000_000)
            let channel = Fixtures.channel("test:payments")
            let publisher = Self.router(engine, keys: Self.ring(Self.e1))
            // The schema still checks the clear value: an account that breaks its pattern is refused.
            await #expect(throws: SwitchyardError.self) {
                try await publisher.publish(to: channel, payload: ["n": 0, "account": "NOT-AN-ACCOUNT"])
            }
            try await publisher.publish(to: channel, payload: Self.payload(1))
            try await Self.router(engine, keys: Self.ring(Self.e2, Self.e1)).publish(to: channel, payload: Self.payload(2))

            let stored = try await engine.read(channel, from: .beginning, limit: 10).map(\.envelope)
            #expect(stored.count == 2)
            for envelope in stored { Self.expectNoClearValue(envelope.encoded(), "the stored envelope") }
            #expect(stored.map { $0.data["account"]?["key_id"] } == ["e1", "e2"], "the newest key seals")
            #expect(stored[0].data["card"]?["brand"] == "visa", "fields not marked stay in clear")
            #expect(stored.allSatisfy { FieldSealer.sealedFields(of: $0) == ["account", "card.number"] })
            Self.expectNoClearValue(try #require(try await engine.latest(channel)).encoded(), "the latest state")

            let opened = try await Self.consume(engine, keys: Self.ring(Self.e2, Self.e1), channel: channel, count: 2)
            #expect(opened.map(\.data) == [Self.payload(1), Self.payload(2)])
            #expect(opened.allSatisfy { $0.metadata["sealed_fields"] == nil })

            let sealed = try await Self.consume(engine, keys: nil, channel: channel, count: 2)
            #expect(sealed.map(\.data) == stored.map(\.data))
            #expect(sealed.allSatisfy { FieldSealer.sealedFields(of: $0) == ["account", "card.number"] }, "the marker says which fields are sealed")
            #expect(sealed.allSatisfy { $0.data["account"]?["sealed"] == "AES-256-GCM" })

            let newKeyOnly = try await Self.consume(engine, keys: Self.ring(Self.e2), channel: channel, count: 2)
            #expect(newKeyOnly[0].data["account"]?["sealed"] == "AES-256-GCM", "sealed with a key the consumer lacks: stays sealed")
            #expect(newKeyOnly[1].data == Self.payload(2))

            // Without a key, the publisher refuses rather than store the fields in clear.
            let withoutKey = Self.router(engine, keys: nil)
            do throws(SwitchyardError) {
                try await withoutKey.publish(to: channel, payload: Self.payload(3))
                Issue.record("a publisher without a key stored sensitive fields")
            } catch {
                #expect(error.code == .encryptionKeyRequired)
            }
            #expect(try await engine.info(channel).lastSequenceNumber == 2)
        }
    }

    @Test("Redis holds no clear value: the stream (XRANGE), the latest state, the live feed", .needs(.redis))
    func rawRedis() async throws {
        try await EngineKind.redis.isolated {
            let engine = EngineKind.redis.make(SystemClock(), 1_000_000)
            let channel = Fixtures.channel("test:raw-sealed")
            let check = try RedisTestServer.client()
            let live = try await engine.liveEvents(matching: [Fixtures.pattern(channel.rawValue)])
            try await Self.router(engine, keys: Self.ring(Self.e1)).publish(to: channel, payload: Self.payload(1))
            let entries = try await check.execute(XRANGE("stream:{\(channel.rawValue)}"))
            #expect(entries.count == 1)
            for entry in entries {
                for field in entry.fields { Self.expectNoClearValue(String(buffer: field.value), "XRANGE stream:{…}") }
            }
            Self.expectNoClearValue(try #require(try await text(check, "latest:{\(channel.rawValue)}")), "GET latest:{…}")
            var iterator = live.makeAsyncIterator()
            let pushed = try #require(await iterator.next())
            Self.expectNoClearValue(pushed.encoded(), "the PUBLISHed envelope")
        }
    }

    @Test("the spool holds no clear value")
    func spool() async throws {
        let path = NSTemporaryDirectory() + "switchyard-sealed-\(UUID().uuidString).spool"
        defer { try? FileManager.default.removeItem(atPath: path) }
        // A Redis that is not there: every publish is spooled.
        var redis = try RedisConfiguration(url: "redis://127.0.0.1:1")
        redis.connectTimeout = .milliseconds(200)
        let engine = RedisEngine(
            client: try RedisClient(configuration: redis, logger: Logger(label: "test.sealed")),
            configuration: .init(spool: .init(path: path)), logger: Logger(label: "test.sealed"))
        let receipt = try await Self.router(engine, keys: Self.ring(Self.e1)).publish(to: try ChannelName("test:spooled"), payload: Self.payload(1))
        #expect(receipt.streamID == RedisEngine.spooledPosition)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains("AES-256-GCM"))
        Self.expectNoClearValue(text, "the spool file")
    }
}
