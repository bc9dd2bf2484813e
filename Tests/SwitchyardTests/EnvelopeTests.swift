import Foundation
import JSONSchema
import Testing

@testable import Switchyard

@Suite struct EnvelopeTests {
    static let designExample = """
        {"event_id":"0193a2c4-7b1e-7c3a-9f1e-3b2d1c0a9e8f","channel":"trades:order_filled","sequence_number":42,\
        "timestamp":"2026-01-27T10:30:05.123Z","source":"trade_executor","schema":"trades:order_filled@1",\
        "data":{"order_id":"ord_123456","fill_id":"fill_789","filled_quantity":10,"filled_price":0.65,\
        "fill_time":"2026-01-27T10:30:03Z","commission":0.1},"metadata":{"user_id":"user_0001"}}
        """

    @Test func decodesAndReencodesTheDesignExampleByteForByte() throws {
        let envelope = try Envelope(decoding: Self.designExample)
        #expect(envelope.eventID.description == "0193a2c4-7b1e-7c3a-9f1e-3b2d1c0a9e8f")
        #expect(envelope.channel.rawValue == "trades:order_filled")
        #expect(envelope.sequenceNumber == 42)
        #expect(envelope.timestamp.description == "2026-01-27T10:30:05.123Z")
        #expect(envelope.source == "trade_executor")
        #expect(envelope.schema == "trades:order_filled@1")
        #expect(envelope.data["filled_price"] == .double(0.65))
        #expect(envelope.metadata["user_id"] == "user_0001")
        #expect(envelope.topic == "trades:order_filled" && envelope.eventTime == nil)
        let withTopic = Self.designExample.replacingOccurrences(
            of: #""channel":"trades:order_filled","#, with: #""channel":"trades:order_filled","topic":"trades:order_filled","#)
        #expect(envelope.encoded() == withTopic, "the design's members in its order, with topic after channel")
    }

    @Test func eventTimeComesAfterTheTimestampAndRoundTrips() throws {
        let envelope = Envelope(
            eventID: .generate(), channel: try ChannelName("market_data:btc_price"), sequenceNumber: 3, timestamp: .now(),
            source: "btc_price_watchdog", schema: "market_data:btc_price@1", data: ["price": 43250.5], eventTime: "2025-01-27T10:30:00Z")
        let text = envelope.encoded()
        #expect(text.contains(#""timestamp":"\#(envelope.timestamp)","event_time":"2025-01-27T10:30:00Z","source":"#))
        #expect(try Envelope(decoding: text) == envelope)
        #expect(text == envelope.jsonValue.serialized())
        let broken = text.replacingOccurrences(of: #""event_time":"2025-01-27T10:30:00Z""#, with: #""event_time":5"#)
        #expect(throws: SwitchyardError.self) { try Envelope(decoding: broken) }
    }

    @Test func directEncodingMatchesTheJSONValue() throws {
        let envelope = Envelope(
            eventID: .generate(), channel: try ChannelName("events:x"), sequenceNumber: 7, timestamp: .now(),
            source: "a \"quoted\" \\ source", schema: "events:*@3", data: ["b": [1, 2.5, nil, "\u{1}"]], metadata: ["traceparent": "00-abc"])
        #expect(envelope.encoded() == envelope.jsonValue.serialized())
        #expect(try Envelope(decoding: envelope.encoded()) == envelope)
    }

    @Test func encodesMembersInWireOrderWhateverTheInputOrder() throws {
        let shuffled = """
            {"metadata":{},"data":{"b":1,"a":2},"schema":"x@1","source":"s","timestamp":"2026-01-27T10:30:05Z",\
            "sequence_number":1,"channel":"events:x","event_id":"0193A2C4-7B1E-7C3A-9F1E-3B2D1C0A9E8F","extra":true}
            """
        let envelope = try Envelope(decoding: shuffled)
        #expect(envelope.encoded() == """
            {"event_id":"0193a2c4-7b1e-7c3a-9f1e-3b2d1c0a9e8f","channel":"events:x","topic":"events:x","sequence_number":1,\
            "timestamp":"2026-01-27T10:30:05.000Z","source":"s","schema":"x@1","data":{"b":1,"a":2},"metadata":{}}
            """)
    }

    static let good: JSONObject = [
        "event_id": "0193a2c4-7b1e-7c3a-9f1e-3b2d1c0a9e8f", "channel": "events:a", "sequence_number": 1,
        "timestamp": "2026-01-27T10:30:05Z", "source": "s", "schema": "events:a@1", "data": [:],
    ]

    @Test(arguments: [
        ("event_id", nil, "event_id", true), ("event_id", "nope", "event_id", false), ("channel", "a::b", "channel", false),
        ("channel", nil, "channel", true), ("sequence_number", 1.5, "sequence_number", false), ("sequence_number", 0, "sequence_number", false),
        ("sequence_number", .int(.max), "sequence_number", false),
        ("timestamp", "yesterday", "timestamp", false), ("schema", nil, "schema", true), ("schema", 3, "schema", false),
        ("data", nil, "data", true), ("metadata", "x", "metadata", false), ("source", nil, "source", true),
    ] as [(String, JSONValue?, String, Bool)])
    func namesTheBrokenMember(_ member: String, _ value: JSONValue?, _ field: String, _ isMissing: Bool) {
        var object = Self.good
        object[member] = value
        do {
            _ = try Envelope(json: .object(object))
            Issue.record("accepted an envelope with \(member) = \(String(describing: value))")
        } catch {
            #expect(error.code == .validationError)
            #expect(error.message == "Invalid envelope")
            let missing = error.body["details"]?["missing_fields"]?.arrayValue ?? []
            let invalid = error.body["details"]?["invalid_fields"]?.objectValue ?? [:]
            #expect(missing == (isMissing ? [.string(field)] : []))
            #expect(invalid.keys == (isMissing ? [] : [field]))
        }
    }

    @Test func reportsEveryProblemAtOnce() {
        do {
            _ = try Envelope(json: ["channel": "a::b", "sequence_number": -1])
            Issue.record("accepted a broken envelope")
        } catch {
            #expect(error.body["details"]?["missing_fields"] == ["event_id", "timestamp", "source", "schema", "data"])
            #expect(error.body["details"]?["invalid_fields"]?.objectValue?.keys == ["channel", "sequence_number"])
        }
    }

    @Test func refusesNonObjectsAndMalformedText() {
        #expect(throws: SwitchyardError.self) { try Envelope(decoding: "[]") }
        do {
            _ = try Envelope(decoding: "{")
            Issue.record("accepted malformed JSON")
        } catch {
            #expect(error.code == .malformedJSON)
        }
        #expect(throws: Never.self) { try Envelope(json: .object(Self.good)) }
    }
}

@Suite struct EventIDTests {
    @Test func generatesIncreasingVersion7IDs() {
        var previous = EventID.generate()
        for _ in 0..<50_000 {
            let next = EventID.generate()
            #expect(next > previous)
            #expect(next.version == 7)
            #expect((next.low >> 62) == 0b10)
            previous = next
        }
    }

    @Test func embedsTheCurrentTime() {
        let before = Timestamp.now().unixMilliseconds
        let id = EventID.generate()
        let after = Timestamp.now().unixMilliseconds
        #expect(id.unixMilliseconds >= before && id.unixMilliseconds <= after + 1)
    }

    @Test func staysMonotonicWhenTheClockStandsStillOrGoesBack() {
        var generator = UUIDv7Generator()
        var previous = generator.next(now: 1_000)
        for now in [1_000, 1_000, 999, 500, 1_000, 1_001] as [Int64] {
            for _ in 0..<3000 {
                let next = generator.next(now: now)
                #expect(next > previous)
                previous = next
            }
        }
    }

    @Test func parsesAndPrintsUUIDs() {
        #expect(EventID("0193A2C4-7B1E-7C3A-9F1E-3B2D1C0A9E8F")?.description == "0193a2c4-7b1e-7c3a-9f1e-3b2d1c0a9e8f")
        #expect(EventID("0193a2c4-7b1e-7c3a-9f1e-3b2d1c0a9e8f")?.version == 7)
        for bad in ["", "0193a2c47b1e7c3a9f1e3b2d1c0a9e8f", "0193a2c4-7b1e-7c3a-9f1e-3b2d1c0a9e8", "0193a2c4-7b1e-7c3a-9f1e-3b2d1c0a9e8g",
                    "0193a2c4-7b1e-7c3a-9f1e-3b2d1c0a9e8ff", "0193a2c4+7b1e-7c3a-9f1e-3b2d1c0a9e8f"] {
            #expect(EventID(bad) == nil, "\(bad)")
        }
    }
}

@Suite struct TimestampTests {
    @Test(arguments: [
        ("2026-01-27T10:30:05.123Z", 1_769_509_805_123),
        ("2026-01-27T10:30:05Z", 1_769_509_805_000),
        ("2026-01-27T10:30:05.1Z", 1_769_509_805_100),
        ("2026-01-27T10:30:05.123456Z", 1_769_509_805_123),
        ("2026-01-27T12:30:05.123+02:00", 1_769_509_805_123),
        ("2026-01-27 10:30:05.123z", 1_769_509_805_123),
        ("1970-01-01T00:00:00Z", 0),
        ("1969-12-31T23:59:59.999Z", -1),
        ("2000-02-29T00:00:00Z", 951_782_400_000),
    ] as [(String, Int64)])
    func parses(_ text: String, _ milliseconds: Int64) {
        #expect(Timestamp(rfc3339: text)?.unixMilliseconds == milliseconds)
    }

    @Test(arguments: ["0000-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2026-01-27T10:30:60Z", "", "2026-01-27", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-01-27T24:00:00Z",
                      "2026-01-27T10:30:05", "2026-01-27T10:30:05.Z", "2026-01-27T10:30:05+0200", "2026-01-27T10:30:05Zjunk"])
    func refuses(_ text: String) {
        #expect(Timestamp(rfc3339: text) == nil)
    }

    @Test func printsUTCWithMilliseconds() {
        #expect(Timestamp(unixMilliseconds: 1_769_509_805_123).description == "2026-01-27T10:30:05.123Z")
        #expect(Timestamp(unixMilliseconds: 0).description == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp(unixMilliseconds: -1).description == "1969-12-31T23:59:59.999Z")
        #expect(Timestamp(unixMilliseconds: 951_782_400_007).description == "2000-02-29T00:00:00.007Z")
    }

    @Test func edgesOfTheWritableRange() {
        #expect(Timestamp(rfc3339: "0000-01-01T00:00:00Z") == .earliest)
        #expect(Timestamp(rfc3339: "9999-12-31T23:59:59.999Z") == .latest)
        #expect(Timestamp.earliest.description == "0000-01-01T00:00:00.000Z")
        #expect(Timestamp.latest.description == "9999-12-31T23:59:59.999Z")
        #expect(Timestamp(unixMilliseconds: .min).description == "0000-01-01T00:00:00.000Z")
        #expect(Timestamp(unixMilliseconds: .max).description == "9999-12-31T23:59:59.999Z")
        #expect(Timestamp(rfc3339: "2016-12-31T23:59:60Z")?.description == "2016-12-31T23:59:59.000Z")
    }

    @Test func roundTripsAcrossCenturies() {
        var milliseconds: Int64 = -2_208_988_800_000
        while milliseconds < 4_102_444_800_000 {
            let stamp = Timestamp(unixMilliseconds: milliseconds)
            #expect(Timestamp(rfc3339: stamp.description) == stamp)
            milliseconds += 86_399_997 * 7
        }
    }
}
