import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JSONSchema
import Switchyard
import SwitchyardGateway
import Testing

/// `PUT`/`GET /v1/state/{key}` and `GET /v1/state`, with the channel grants applied to key names.
@Suite struct StateRouteTests {
    static func setUp() async throws -> (TestGateway, writer: HTTPFields, reader: HTTPFields) {
        let gateway = try TestGateway(authenticator: try await TestAuth.authenticator())
        var writer = TestAuth.bearer(try await TestAuth.hs256(TestAuth.claims("position_monitor", publish: ["position:*", "cache:*"], subscribe: ["position:*"])))
        writer[.contentType] = "application/json"
        var reader = TestAuth.bearer(try await TestAuth.hs256(TestAuth.claims("dashboard", subscribe: ["quotes.*"])))
        reader[.contentType] = "application/json"
        return (gateway, writer, reader)
    }

    @Test func putThenGetWithGrants() async throws {
        let (gateway, writer, reader) = try await Self.setUp()
        try await gateway.test { client in
            let body = #"{"timestamp":"2024-05-12T14:00:00Z","wallet":{"ETH":10},"cex_accounts":{},"perp_positions":{}}"#
            let put = try await client.send(.put, "/v1/state/position:snapshot", body: body, headers: writer)
            #expect(put.status == .ok)
            #expect(put.json == ["key": "position:snapshot", "ttl": "1h", "ttl_seconds": 3600])
            let get = try await client.send(.get, "/v1/state/position:snapshot", headers: writer)
            #expect(get.status == .ok)
            #expect(get.json["value"] == (try JSONValue(parsing: body)))
            // The remaining TTL, rounded up: a second may pass between the PUT and the GET on a busy machine.
            #expect((3595...3600).contains(get.json["ttl_seconds"]?.doubleValue ?? 0))
            #expect(get.json["family"] == "position:snapshot")

            let forbiddenRead = try await client.send(.get, "/v1/state/position:snapshot", headers: reader)
            #expect(forbiddenRead.status == .forbidden && forbiddenRead.json["details"]?["grant"] == "subscribe")
            let forbiddenWrite = try await client.send(.put, "/v1/state/position:snapshot", body: "{}", headers: reader)
            #expect(forbiddenWrite.status == .forbidden && forbiddenWrite.json["details"]?["grant"] == "publish")

            let missing = try await client.send(.get, "/v1/state/position:other", headers: writer)
            #expect(missing.status == .notFound && missing.errorType == "unknown_state_key")
            let listed = try await client.send(.get, "/v1/state", headers: writer)
            let entries = listed.json["keys"]?.arrayValue ?? []
            #expect(entries.first { $0["key"] == "position:snapshot" }?["current"]?["value"]?["wallet"] == ["ETH": 10])
            #expect(entries.first { $0["key"] == "config:strategy" }?["current"] == nil, "not readable, so not read")
            #expect(entries.first { $0["key"] == "config:*" }?["ttl"] == .null)
        }
    }

    /// Seed 001's `publish('position:updated', …)` then `set('position:snapshot', …)`, as one batch
    /// event with a `state` member: the key is set only when the event is stored.
    @Test func aBatchOfOneEventSetsItsStateKeyWithTheEvent() async throws {
        let gateway = try TestGateway(authenticator: try await TestAuth.authenticator())
        var monitor = TestAuth.bearer(try await TestAuth.hs256(TestAuth.claims("position_monitor", publish: ["trades:fill", "position:*"], subscribe: ["position:*"])))
        monitor[.contentType] = "application/json"
        var fillsOnly = TestAuth.bearer(try await TestAuth.hs256(TestAuth.claims("fills", publish: ["trades:fill"])))
        fillsOnly[.contentType] = "application/json"
        try await gateway.test { [monitor, fillsOnly] client in
            func batch(_ qty: String, _ wallet: Int, extra: String = "") -> String {
                #"{"events":[{"channel":"trades:fill","data":{"qty":\#(qty)},"state":{"key":"position:snapshot","value":{"wallet":{"ETH":\#(wallet)}}}}\#(extra)]}"#
            }
            let stored = try await client.send(.post, "/v1/events:batch", body: batch("1", 10), headers: monitor)
            #expect(stored.status == .created && stored.json["receipts"]?.arrayValue?.first?["sequence_number"] == 1)
            let first = try await client.send(.get, "/v1/state/position:snapshot", headers: monitor)
            #expect(first.json["value"] == ["wallet": ["ETH": 10]] && (3595...3600).contains(first.json["ttl_seconds"]?.doubleValue ?? 0))

            let refused = try await client.send(.post, "/v1/events:batch", body: batch(#""one""#, 11), headers: monitor)
            #expect(refused.status == .unprocessableContent && refused.errorType == "validation_error")
            let two = try await client.send(.post, "/v1/events:batch", body: batch("2", 12, extra: #",{"channel":"trades:fill","data":{"qty":3}}"#), headers: monitor)
            #expect(two.status == .unprocessableContent && two.json["details"]?["invalid_fields"]?["events.0.state"] != nil)
            let noGrant = try await client.send(.post, "/v1/events:batch", body: batch("4", 13), headers: fillsOnly)
            #expect(noGrant.status == .forbidden && noGrant.json["details"]?["grant"] == "publish")
            let after = try await client.send(.get, "/v1/state/position:snapshot", headers: monitor)
            #expect(after.json["value"] == ["wallet": ["ETH": 10]], "no refused publish set the key")
            #expect(try await gateway.router.latest(try ChannelName("trades:fill"))?.sequenceNumber == 1, "only the first event was stored")
        }
    }

    @Test func badValuesAreRefused() async throws {
        let (gateway, writer, _) = try await Self.setUp()
        try await gateway.test { client in
            let notJSON = try await client.send(.put, "/v1/state/cache:trades:ord_1", body: "{not json", headers: writer)
            #expect(notJSON.status == .badRequest && notJSON.errorType == "malformed_json")
            var plain = writer
            plain[.contentType] = "text/plain"
            let wrongType = try await client.send(.put, "/v1/state/cache:trades:ord_1", body: "{}", headers: plain)
            #expect(wrongType.status == .unsupportedMediaType)
            let secret = try await client.send(.put, "/v1/state/cache:trades:ord_1", body: #"{"account":{"password":"x"}}"#, headers: writer)
            #expect(secret.status == .unprocessableContent && secret.json["details"]?["invalid_fields"]?["account.password"] != nil)
            let schema = try await client.send(.put, "/v1/state/position:snapshot", body: #"{"wallet":5}"#, headers: writer)
            #expect(schema.status == .unprocessableContent && schema.errorType == "validation_error")
            #expect(schema.json["details"]?["invalid_fields"]?["wallet"] != nil)
            let big = try await client.send(.put, "/v1/state/cache:trades:ord_1", body: "\"" + String(repeating: "x", count: 1_100_000) + "\"", headers: writer)
            #expect(big.status == .contentTooLarge && big.errorType == "payload_too_large")
            let missing = try await client.send(.get, "/v1/state/cache:trades:ord_1", headers: TestAuth.bearer(try await TestAuth.hs256(TestAuth.claims(subscribe: ["cache:*"]))))
            #expect(missing.status == .notFound && missing.errorType == "not_found", "nothing refused was stored")
        }
    }
}
