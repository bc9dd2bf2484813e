import JSONSchema
import RedisClient
import Switchyard
import SwitchyardRedis
import RedisTestSupport
import Testing

/// REC.IO's whole message, `{"topic","timestamp","data","metadata"}` (seed 000), published where a
/// payload is expected, on every engine.
@Suite("Whole REC.IO messages")
struct TopicMessageTests {
    static func message(_ channel: ChannelName, n: Int, timestamp: JSONValue = "2025-01-27T10:30:00Z") -> JSONValue {
        ["topic": .string(channel.rawValue), "timestamp": timestamp, "data": Fixtures.payload(n), "metadata": ["sequence_id": 12345, "version": "1.0"]]
    }

    @Test("the data is the payload, the metadata the envelope's, the timestamp its event_time; topic, timestamp, data and metadata come back", arguments: EngineKind.all)
    func publishesTheWholeMessage(kind: EngineKind) async throws {
        try await kind.isolated {
            let router = Fixtures.router(kind)
            let channel = Fixtures.channel("test:recio.whole")
            let receipt = try await router.publish(to: channel, payload: Self.message(channel, n: 1), metadata: ["session_id": "sess_789"])
            #expect(receipt.sequenceNumber == 1)
            let latest = try #require(try await router.latest(channel))
            #expect(latest.data == Fixtures.payload(1))
            #expect(latest.eventTime == "2025-01-27T10:30:00Z")
            #expect(latest.metadata["sequence_id"] == 12345 && latest.metadata["version"] == "1.0" && latest.metadata["session_id"] == "sess_789")
            let wire = try JSONValue(parsing: latest.encoded())
            #expect(wire["topic"] == .string(channel.rawValue))
            #expect(wire["timestamp"] == .string(latest.timestamp.description))
            #expect(wire["event_time"] == "2025-01-27T10:30:00Z")
            #expect(wire["data"] == Fixtures.payload(1))
            #expect(wire["metadata"]?["version"] == "1.0")
            let replayed = try await router.replay(try ChannelPattern(channel.rawValue), since: .beginning, until: nil, limit: 10)
            #expect(replayed == [latest])
        }
    }

    @Test("a bare payload still publishes, without event_time, with topic", arguments: EngineKind.all)
    func barePayload(kind: EngineKind) async throws {
        try await kind.isolated {
            let router = Fixtures.router(kind)
            let channel = Fixtures.channel("test:recio.bare")
            try await router.publish(to: channel, payload: Fixtures.payload(2))
            let latest = try #require(try await router.latest(channel))
            #expect(latest.eventTime == nil && latest.data == Fixtures.payload(2))
            let wire = try JSONValue(parsing: latest.encoded())
            #expect(wire["topic"] == .string(channel.rawValue) && wire["event_time"] == nil)
        }
    }

    @Test("seed 000's validation_error: a message without timestamp and data names both, and stores nothing", arguments: EngineKind.all)
    func missingFields(kind: EngineKind) async throws {
        try await kind.isolated {
            let router = Fixtures.router(kind)
            let channel = Fixtures.channel("test:recio.missing")
            let refusal = await #expect(throws: SwitchyardError.self) {
                try await router.publish(to: channel, payload: ["topic": .string(channel.rawValue), "metadata": [:]])
            }
            #expect(refusal?.body == [
                "error_type": "validation_error", "message": "Invalid message schema",
                "details": ["missing_fields": ["timestamp", "data"], "invalid_fields": [:]],
            ])
            let invalid = await #expect(throws: SwitchyardError.self) {
                try await router.publish(to: channel, payload: [
                    "topic": "test:another", "timestamp": "yesterday", "data": ["n": "one"], "metadata": "none",
                ])
            }
            let fields = try #require(invalid?.details["invalid_fields"]?.objectValue)
            #expect(Set(fields.keys) == ["topic", "timestamp", "metadata"], "the message's own members are checked first, all at once")
            let data = await #expect(throws: SwitchyardError.self) {
                try await router.publish(to: channel, payload: Self.message(channel, n: 1).replacing("data", with: ["n": "one"]))
            }
            #expect(data?.code == .validationError && data?.details["invalid_fields"]?["n"] != nil, "the data is checked against the contract")
            #expect(try await router.latest(channel) == nil)
        }
    }

    @Test("a timestamp without offset, as Python's isoformat() writes it, is kept as sent")
    func naiveTimestamp() async throws {
        try await EngineKind.embedded.isolated {
            let router = Fixtures.router(.embedded)
            let channel = Fixtures.channel("test:recio.naive")
            try await router.publish(to: channel, payload: Self.message(channel, n: 3, timestamp: "2025-01-27T10:30:00.123456"))
            #expect(try await router.latest(channel)?.eventTime == "2025-01-27T10:30:00.123456")
        }
    }

    @Test("on Redis, the stream entry and the Pub/Sub message carry topic, timestamp, data and metadata", .needs(.redis))
    func redisWire() async throws {
        try await EngineKind.redis.isolated {
            let (router, _) = redisRouter()
            let check = try RedisTestServer.client()
            let channel = Fixtures.channel("test:recio.wire")
            let (live, stored) = try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await check.run() }
                defer { group.cancelAll() }
                let live = try await check.subscribe(to: [channel.rawValue]) { subscription in
                    try await router.publish(to: channel, payload: Self.message(channel, n: 4))
                    for try await event in subscription {
                        if let message = event.message { return try JSONValue(parsing: String(buffer: message.payload)) }
                    }
                    return JSONValue.null
                }
                let entry = try #require(try await check.execute(XRANGE("stream:{\(channel.rawValue)}")).first)
                return (live, try JSONValue(parsing: String(buffer: try #require(entry[field: "envelope"]))))
            }
            for object in [stored, live] {
                #expect(object["topic"] == .string(channel.rawValue))
                #expect(object["timestamp"]?.stringValue != nil && object["event_time"] == "2025-01-27T10:30:00Z")
                #expect(object["data"] == Fixtures.payload(4))
                #expect(object["metadata"]?["sequence_id"] == 12345)
            }
        }
    }
}

extension JSONValue {
    /// The object with one member replaced.
    func replacing(_ key: String, with value: JSONValue) -> JSONValue {
        guard case .object(var object) = self else { return self }
        object[key] = value
        return .object(object)
    }
}
