import HTTPTypes
import Hummingbird
import HummingbirdTesting
import HummingbirdWSClient
import JSONSchema
import Switchyard
import SwitchyardGateway
import Testing

/// The WebSocket upgrade goes through the gateway's real authenticator: a token in the `token`
/// query parameter (what a browser can send), its grants on every frame, and its subject as the
/// `source` of what the connection publishes.
@Suite struct WebSocketAuthTests {
    @Test func aTokenInTheQueryGrantsItsPatternsAndNamesTheSource() async throws {
        let gateway = try TestGateway(allowsUnknownChannels: true, authenticator: try await TestAuth.authenticator())
        let token = try await TestAuth.hs256(TestAuth.claims("quote-desk", publish: ["quotes.*"], subscribe: ["quotes.*"]))
        try await gateway.live { client in
            try await client.ws("/v1/ws?token=\(token)") { inbound, outbound, _ in
                var conversation = Conversation(inbound, outbound)
                try await conversation.send(#"{"type":"subscribe","patterns":["trades:*"],"id":"t"}"#)
                #expect(try await conversation.frame()["error"]?["error_type"] == "forbidden")
                try await conversation.subscribe(["quotes.*"])
                try await conversation.send(#"{"type":"publish","channel":"trades:fill","data":{"qty":1},"id":"p1"}"#)
                #expect(try await conversation.frame()["error"]?["error_type"] == "forbidden")
                try await conversation.send(#"{"type":"publish","channel":"quotes.aapl","data":{"bid":1},"id":"p2"}"#)
                var published: JSONValue?
                var event: Envelope?
                while published == nil || event == nil {
                    let frame = try await conversation.frame()
                    if frame["type"] == "published" { published = frame }
                    if frame["type"] == "event", let envelope = frame["envelope"] { event = try Envelope(json: envelope) }
                }
                #expect(published?["id"] == "p2")
                #expect(event?.source == "quote-desk" && event?.channel.rawValue == "quotes.aapl")
            }
        }
        #expect(try await gateway.router.replay(try ChannelPattern("trades:fill")).isEmpty, "a refused publish stores nothing")
    }

    @Test func tokensCutOrReheadedAreRefusedOverHTTPToo() async throws {
        let gateway = try TestGateway(authenticator: try await TestAuth.authenticator(anonymous: .init(enabled: false)))
        let valid = try await TestAuth.hs256(TestAuth.claims(publish: ["*"], subscribe: ["*"]))
        let parts = valid.split(separator: ".").map(String.init)
        let none = try TestAuth.unsigned(TestAuth.claims(publish: ["*"], subscribe: ["*"])).split(separator: ".")[0]
        try await gateway.test { client in
            #expect(try await client.send(.get, "/v1/channels", headers: TestAuth.bearer(valid)).status == .ok)
            for token in ["\(parts[0]).\(parts[1]).", "\(none).\(parts[1]).\(parts[2])", "\(none).\(parts[1]).", "\(parts[0]).\(parts[1])"] {
                let answer = try await client.send(.post, "/v1/channels/trades:fill/events", body: #"{"qty":1}"#, headers: TestAuth.bearer(token))
                #expect(answer.status == .unauthorized, "\(token)")
            }
        }
        #expect(try await gateway.router.replay(try ChannelPattern("trades:fill")).isEmpty)
    }

    @Test func anUpgradeWithoutValidCredentialsIsRefusedWith401() async throws {
        let gateway = try TestGateway(authenticator: try await TestAuth.authenticator(anonymous: .init(enabled: false)))
        let expired = try await TestAuth.hs256(TestAuth.claims(subscribe: ["*"], expiresIn: -3600))
        let claims = TestAuth.claims(publish: ["*"], subscribe: ["*"])
        let wronglySigned = try await TestAuth.hs256(claims, secret: "another-secret-of-at-least-thirty-two-bytes")
        let unsigned = try TestAuth.unsigned(claims)
        // A valid token with its signature cut off, and one whose header was swapped for alg=none.
        let valid = try await TestAuth.hs256(claims)
        let stripped = String(valid[..<valid.lastIndex(of: ".")!]) + "."
        let noneHeader = unsigned.split(separator: ".")[0] + "." + valid.split(separator: ".")[1] + "." + valid.split(separator: ".")[2]
        try await gateway.live { client in
            for path in [
                "/v1/ws", "/v1/ws?token=\(expired)", "/v1/ws?token=garbage", "/v1/ws?token=\(wronglySigned)", "/v1/ws?token=\(unsigned)",
                "/v1/ws?token=\(stripped)", "/v1/ws?token=\(noneHeader)",
            ] {
                await #expect(throws: WebSocketClientError.self, "\(path)") {
                    try await client.ws(path) { _, _, _ in }
                }
            }
        }
    }
}
