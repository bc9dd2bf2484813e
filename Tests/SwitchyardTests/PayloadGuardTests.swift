import JSONSchema
import Testing

@testable import Switchyard

@Suite struct PayloadGuardTests {
    static func makeGuard(allowUnknown: Bool = false) throws -> PayloadGuard {
        let folder = try ContractFolder([
            "q.json": #"""
            {"channel": "quotes.realtime", "policy": {"max_size_bytes": 200},
             "schema": {"type": "object", "required": ["symbol", "bid", "timestamp"], "additionalProperties": false,
                        "properties": {"symbol": {"type": "string", "pattern": "^[A-Z]{1,5}$"}, "bid": {"type": "number", "minimum": 0},
                                       "timestamp": {"type": "string", "format": "date-time"}, "extra": {"type": "object"}}}}
            """#,
        ])
        return PayloadGuard(registry: try ContractRegistry.load(from: folder.path), allowsUnknownChannels: allowUnknown)
    }

    static let channel = try! ChannelName("quotes.realtime")

    func refusal(_ payload: String, allowUnknown: Bool = false, channel: ChannelName = channel) throws -> SwitchyardError? {
        let payloadGuard = try Self.makeGuard(allowUnknown: allowUnknown)
        do {
            _ = try payloadGuard.check(channel: channel, payload: Array(payload.utf8))
            return nil
        } catch {
            return error
        }
    }

    @Test func acceptsAValidPayload() throws {
        let payloadGuard = try Self.makeGuard()
        let checked = try payloadGuard.check(channel: Self.channel, payload: Array(#"{"symbol":"AAPL","bid":189.5,"timestamp":"2026-01-27T10:30:05Z"}"#.utf8))
        #expect(checked.schemaID == "quotes.realtime@1")
        #expect(checked.payload["symbol"] == "AAPL")
        #expect(checked.sizeBytes == 64)
        #expect(!checked.exceedsRecommendedSize)
    }

    @Test func schemaFailuresGiveTheValidationErrorShape() throws {
        let error = try #require(try refusal(#"{"symbol":"aapl","bid":"1"}"#))
        #expect(error.code == .validationError)
        let body = error.body
        #expect(body["error_type"] == "validation_error")
        #expect(body["message"] == "Invalid message schema")
        #expect(body["details"]?["missing_fields"] == ["timestamp"])
        let invalid = try #require(body["details"]?["invalid_fields"]?.objectValue)
        #expect(invalid.keys.sorted() == ["bid", "symbol"])
        #expect(invalid["bid"] == "must be numeric")
        #expect(invalid["symbol"]?.stringValue?.hasPrefix("must match pattern") == true)
    }

    @Test func credentialsAreRefusedAtAnyDepth() throws {
        let error = try #require(try refusal(#"{"symbol":"AAPL","bid":1,"timestamp":"2026-01-27T10:30:05Z","extra":{"legs":[{"Api-Key":"x"}]}}"#))
        #expect(error.code == .validationError)
        #expect(error.body["details"]?["invalid_fields"]?["extra.legs.0.Api-Key"] == "credentials are not allowed in messages")
        #expect(!error.description.contains("\"x\""))
    }

    @Test(arguments: ["password", "PASSWD", "private_key", "authorization", "token", "apikey", "secret"])
    func everyDefaultCredentialNameIsRefused(_ name: String) throws {
        let error = try #require(try refusal(#"{"symbol":"AAPL","bid":1,"timestamp":"2026-01-27T10:30:05Z","\#(name)":"x"}"#))
        #expect(error.body["details"]?["invalid_fields"]?[name] != nil)
    }

    @Test(arguments: ["db_password", "exchange_api_key", "clientSecret", "x-authorization", "_token_", "PRIVATE-KEY"])
    func credentialSuffixesAreRefused(_ name: String) throws {
        let error = try #require(try refusal(#"{"symbol":"AAPL","bid":1,"timestamp":"2026-01-27T10:30:05Z","extra":{"\#(name)":"x"}}"#))
        #expect(error.body["details"]?["invalid_fields"]?["extra.\(name)"] != nil)
    }

    @Test(arguments: ["base_token", "tokens", "secretary", "passwords_rotated_at", "keyword", "author"])
    func lookalikeFieldsAreAllowed(_ name: String) throws {
        #expect(try refusal(#"{"symbol":"AAPL","bid":1,"timestamp":"2026-01-27T10:30:05Z","extra":{"\#(name)":"x"}}"#) == nil)
    }

    @Test func credentialListIsConfigurable() throws {
        let base = try Self.makeGuard()
        let custom = PayloadGuard(registry: base.registry, credentialFields: ["pin"])
        let payload = Array(#"{"symbol":"AAPL","bid":1,"timestamp":"2026-01-27T10:30:05Z","extra":{"PIN":1,"token":2}}"#.utf8)
        do {
            _ = try custom.check(channel: Self.channel, payload: payload)
            Issue.record("accepted a configured credential field")
        } catch {
            #expect(error.body["details"]?["invalid_fields"]?.objectValue?.keys == ["extra.PIN"])
        }
    }

    @Test func oversizedPayloadsAreRefusedBeforeParsing() throws {
        let error = try #require(try refusal("{" + String(repeating: " ", count: 300) + "not even json"))
        #expect(error.code == .payloadTooLarge)
        #expect(error.details["max_size_bytes"] == 200)
    }

    @Test func malformedJSONAndNonObjects() throws {
        #expect(try refusal(#"{"symbol":"#)?.code == .malformedJSON)
        #expect(try refusal("[1,2]")?.code == .validationError)
        #expect(try refusal("42")?.body["details"]?["invalid_fields"]?["$"] != nil)
    }

    @Test func unknownChannels() throws {
        let other = try ChannelName("events:unlisted")
        #expect(try refusal(#"{"a":1}"#, channel: other)?.code == .unknownChannel)
        #expect(try refusal(#"{"a":1}"#, allowUnknown: true, channel: other) == nil)
        #expect(try refusal(#"{"token":1}"#, allowUnknown: true, channel: other)?.code == .validationError)
    }

    @Test func documentMayBeAWholeEnvelope() throws {
        let payloadGuard = try Self.makeGuard()
        let envelope = Envelope(
            eventID: .generate(), channel: Self.channel, sequenceNumber: 1, timestamp: .now(), source: "t", schema: "quotes.realtime@1",
            data: ["symbol": "AAPL", "bid": 1, "timestamp": "2026-01-27T10:30:05Z"])
        #expect(try payloadGuard.check(channel: Self.channel, document: Array(envelope.encoded().utf8)).payload == envelope.data)
        var bad = envelope
        bad.data = ["symbol": "AAPL"]
        #expect(throws: SwitchyardError.self) { try payloadGuard.check(channel: Self.channel, document: Array(bad.encoded().utf8)) }
        bad = envelope
        bad.channel = try ChannelName("quotes.other")
        #expect(throws: SwitchyardError.self) { try payloadGuard.check(channel: Self.channel, document: Array(bad.encoded().utf8)) }
    }
}

@Suite struct PayloadGuardParsedValueTests {
    @Test("a parsed payload's size and credential fields come from one walk, as the text's would")
    func parsedValueChecks() throws {
        let payloadGuard = try PayloadGuardTests.makeGuard()
        let text = #"{"symbol":"AAPL","bid":1.5,"timestamp":"2026-01-27T10:30:05Z","extra":{"note":"a \"quoted\"\n\u0001 ünï","n":[1,-20,{"x":null}]}}"#
        let value = try JSONValue(parsing: Array(text.utf8))
        let checked = try payloadGuard.check(channel: PayloadGuardTests.channel, payload: value)
        #expect(checked.sizeBytes == value.serialized().utf8.count)
        #expect(checked.sizeBytes == payloadGuard.measure(value).size)

        let secret = try JSONValue(parsing: Array(#"{"symbol":"AAPL","bid":1,"timestamp":"2026-01-27T10:30:05Z","extra":{"legs":[{"Api-Key":"x"}]}}"#.utf8))
        let error = #expect(throws: SwitchyardError.self) { try payloadGuard.check(channel: PayloadGuardTests.channel, payload: secret) }
        #expect(error?.body["details"]?["invalid_fields"]?["extra.legs.0.Api-Key"] == "credentials are not allowed in messages")

        let large: JSONValue = ["symbol": "AAPL", "bid": 1, "timestamp": "2026-01-27T10:30:05Z", "extra": ["pad": .string(String(repeating: "x", count: 200))]]
        let tooLarge = #expect(throws: SwitchyardError.self) { try payloadGuard.check(channel: PayloadGuardTests.channel, payload: large) }
        #expect(tooLarge?.code == .payloadTooLarge)
        #expect(tooLarge?.details["size_bytes"] == .int(Int64(large.serialized().utf8.count)))
    }
}
