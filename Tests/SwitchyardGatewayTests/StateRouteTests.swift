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
            #expect(get.json["ttl_seconds"] == 3600)
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
