import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JSONSchema
import Foundation
import JWTKit
import NIOCore
import Switchyard
import SwitchyardGateway
import SwitchyardServer
import Testing

/// Tokens, API keys and anonymous access through the gateway's authenticator.
@Suite struct AuthTests {
    static func gateway() async throws -> TestGateway {
        try TestGateway(allowsUnknownChannels: true, authenticator: try await TestAuth.authenticator())
    }

    @Test func hs256TokenIsAcceptedAndItsSubjectBecomesTheSource() async throws {
        let gateway = try await Self.gateway()
        let token = try await TestAuth.hs256(TestAuth.claims("quote-feed", publish: ["quotes.*"], subscribe: ["quotes.*"]))
        try await gateway.test { client in
            let published = try await client.send(.post, "/v1/channels/quotes.realtime/events", body: #"{"bid":1}"#, headers: TestAuth.bearer(token))
            #expect(published.status == .created, "\(published.json)")
            let latest = try await client.send(.get, "/v1/channels/quotes.realtime/latest", headers: TestAuth.bearer(token))
            #expect(latest.json["source"] == "quote-feed")
        }
    }

    @Test func es256TokenIsAccepted() async throws {
        let gateway = try await Self.gateway()
        let token = try await TestAuth.es256(TestAuth.claims("desk", publish: ["trades:*"], subscribe: ["*"]))
        try await gateway.test { client in
            let published = try await client.send(.post, "/v1/channels/trades:fill/events", body: #"{"qty":1}"#, headers: TestAuth.bearer(token))
            #expect(published.status == .created, "\(published.json)")
            let channels = try await client.send(.get, "/v1/channels", headers: TestAuth.bearer(token))
            #expect(channels.status == .ok)
        }
    }

    @Test func tokenInTheQueryParameterIsAccepted() async throws {
        let gateway = try await Self.gateway()
        let token = try await TestAuth.hs256(TestAuth.claims(subscribe: ["*"]))
        try await gateway.test { client in
            let withToken = try await client.send(.get, "/v1/channels?token=\(token)")
            #expect(withToken.status == .ok)
            let emptyToken = try await client.send(.get, "/v1/channels?token=")
            #expect(emptyToken.status == .unauthorized)
        }
    }

    @Test func badTokensAreRefusedWith401AndAClearMessage() async throws {
        let gateway = try await Self.gateway()
        let claims = TestAuth.claims(publish: ["*"], subscribe: ["*"])
        let cases: [(String, String)] = [
            (try await TestAuth.hs256(TestAuth.claims(expiresIn: -3600)), "expired"),
            (try await TestAuth.hs256(TestAuth.claims(notBefore: 3600)), "not valid yet"),
            (try await TestAuth.hs256(claims, secret: "another-secret-of-at-least-thirty-two-bytes"), "signature"),
            (try await TestAuth.es256(claims, key: ES256PrivateKey()), "signature"),
            (try await TestAuth.hs256(claims, kid: "nobody"), "kid 'nobody'"),
            (try await TestAuth.hs256(claims, kid: nil), "no kid"),
            (try await TestAuth.hs256(claims, kid: "ec"), "does not match"),
            (try await TestAuth.hs256(TestAuth.claims(expiresIn: nil)), "no exp"),
            (try await TestAuth.hs256(TestAuth.claims("")), "no sub"),
            (try await TestAuth.hs256(TestAuth.claims(String(repeating: "s", count: 257))), "longer than 256 bytes"),
            (try await TestAuth.hs256(TestAuth.claims(publish: [""])), "invalid channel pattern"),
            (try TestAuth.unsigned(claims), "'none'"),
            ("not-a-token", "neither a known API key nor a well-formed JWT"),
            ("a.b.c", "neither a known API key nor a well-formed JWT"),
        ]
        try await gateway.test { client in
            for (token, message) in cases {
                let answer = try await client.send(.get, "/v1/channels", headers: TestAuth.bearer(token))
                #expect(answer.status == .unauthorized, "\(message)")
                #expect(answer.errorType == "unauthorized")
                let text = answer.json["message"]?.stringValue ?? ""
                #expect(text.contains(message), "\(text)")
                #expect(!text.contains(token))
            }
            let basic = try await client.send(.get, "/v1/channels", headers: [.authorization: "Basic dXNlcjpwYXNz"])
            #expect(basic.status == .unauthorized && basic.json["message"]?.stringValue?.contains("Bearer") == true)
            let missing = try await client.send(.get, "/v1/channels")
            #expect(missing.status == .unauthorized && missing.json["message"]?.stringValue?.contains("credentials are required") == true)
        }
    }

    @Test func aTokenForQuotesMayNotPublishToTrades() async throws {
        let gateway = try await Self.gateway()
        let token = try await TestAuth.hs256(TestAuth.claims("quote-feed", publish: ["quotes.*"], subscribe: ["quotes.*"]))
        try await gateway.test { client in
            let refused = try await client.send(.post, "/v1/channels/trades:fill/events", body: #"{"qty":1}"#, headers: TestAuth.bearer(token))
            #expect(refused.status == .forbidden)
            #expect(refused.errorType == "forbidden")
            #expect(refused.json["details"]?["channel"] == "trades:fill")
            #expect(refused.json["message"]?.stringValue?.contains("trades:fill") == true)
            let batch = #"{"events":[{"channel":"quotes.realtime","data":{"bid":1}},{"channel":"trades:fill","data":{"qty":1}}]}"#
            let refusedBatch = try await client.send(.post, "/v1/events:batch", body: batch, headers: TestAuth.bearer(token))
            #expect(refusedBatch.status == .forbidden)
            #expect(refusedBatch.json["details"]?["channel"] == "trades:fill")
            #expect(refusedBatch.json["details"]?["index"] == 1)
            #expect(try await gateway.router.info(try ChannelName("quotes.realtime")).lastSequenceNumber == 0)
            let allowed = #"{"events":[{"channel":"quotes.realtime","data":{"bid":1}},{"channel":"quotes.eur","data":{"bid":2}}]}"#
            let accepted = try await client.send(.post, "/v1/events:batch", body: allowed, headers: TestAuth.bearer(token))
            #expect(accepted.status == .created, "\(accepted.json)")
            let envelope = try await gateway.router.latest(try ChannelName("quotes.eur"))
            #expect(envelope?.source == "quote-feed")
        }
    }

    @Test func apiKeysWorkAsBearerAndXAPIKey() async throws {
        let gateway = try await Self.gateway()
        try await gateway.test { client in
            let bearer = try await client.send(.post, "/v1/channels/trades:fill/events", body: #"{"qty":2}"#, headers: TestAuth.bearer(TestAuth.apiKey))
            #expect(bearer.status == .created, "\(bearer.json)")
            #expect(try await gateway.router.latest(try ChannelName("trades:fill"))?.source == "risk-service")
            let header = try await client.send(.get, "/v1/channels/trades:fill/latest", headers: [HTTPField.Name("X-API-Key")!: TestAuth.apiKey])
            #expect(header.status == .ok)
            let query = try await client.send(.get, "/v1/channels/trades:fill/latest?token=\(TestAuth.apiKey)")
            #expect(query.status == .ok)
            let unknown = try await client.send(.get, "/v1/channels", headers: [HTTPField.Name("X-API-Key")!: TestAuth.apiKey + "x"])
            #expect(unknown.status == .unauthorized && unknown.json["message"] == "the API key is not known")
            let forbidden = try await client.send(.post, "/v1/channels/quotes.realtime/events", body: "{}", headers: TestAuth.bearer(TestAuth.apiKey))
            #expect(forbidden.status == .forbidden)
        }
    }

    @Test func aTokenWhoseSubjectIsAnonymousIsRefused() async throws {
        let gateway = try await Self.gateway()
        let token = try await TestAuth.hs256(TestAuth.claims("anonymous", publish: ["*"], subscribe: ["*"]))
        try await gateway.test { client in
            let answer = try await client.send(.post, "/v1/channels/trades:fill/events", body: #"{"qty":1}"#, headers: TestAuth.bearer(token))
            #expect(answer.status == .unauthorized, "\(answer.json)")
            #expect(answer.json["message"]?.stringValue?.contains("reserved") == true, "\(answer.json)")
        }
        #expect(try await gateway.router.replay(try ChannelPattern("trades:fill"), limit: 10).isEmpty)
    }

    @Test func issuerAndAudienceAreCheckedWhenConfigured() async throws {
        var configuration = TestAuth.configuration()
        configuration.issuer = "https://auth.example.com"
        configuration.audience = "switchyard"
        let gateway = try TestGateway(authenticator: try await GatewayAuthenticator(configuration: configuration))
        let cases: [(TestAuth.Claims, HTTPResponse.Status)] = [
            (TestAuth.claims(issuer: "https://auth.example.com", audience: ["switchyard"]), .ok),
            (TestAuth.claims(issuer: "https://auth.example.com", audience: ["billing", "switchyard"]), .ok),
            (TestAuth.claims(issuer: "https://evil.example", audience: ["switchyard"]), .unauthorized),
            (TestAuth.claims(issuer: nil, audience: ["switchyard"]), .unauthorized),
            (TestAuth.claims(issuer: "https://auth.example.com", audience: ["billing"]), .unauthorized),
            (TestAuth.claims(issuer: "https://auth.example.com", audience: nil), .unauthorized),
        ]
        try await gateway.test { client in
            for (claims, status) in cases {
                let answer = try await client.send(.get, "/v1/channels", headers: TestAuth.bearer(try await TestAuth.hs256(claims)))
                #expect(answer.status == status, "iss \(claims.iss ?? "-") aud \(claims.aud ?? []): \(answer.json)")
            }
        }
        // A single-string aud is read too.
        let one = try await TestAuth.hs256Raw(#"{"sub":"desk","iss":"https://auth.example.com","aud":"switchyard","exp":\#(Int(Date().timeIntervalSince1970) + 600)}"#)
        try await gateway.test { client in
            let answer = try await client.send(.get, "/v1/channels", headers: TestAuth.bearer(one))
            #expect(answer.status == .ok, "\(answer.json)")
        }
        let settings = try ServerSettings(parsing: Array(#"{"auth": {"issuer": "https://auth.example.com", "audience": "switchyard"}}"#.utf8))
        #expect(settings.auth?.issuer == "https://auth.example.com" && settings.auth?.audience == "switchyard")
    }

    @Test func anonymousAccessIsForLoopbackClientsUnlessConfiguredOtherwise() async throws {
        let loopback = try SocketAddress(ipAddress: "127.0.0.1", port: 40000)
        let loopback6 = try SocketAddress(ipAddress: "::1", port: 40000)
        let remote = try SocketAddress(ipAddress: "10.1.2.3", port: 40000)
        let remote6 = try SocketAddress(ipAddress: "2001:db8::1", port: 40000)
        let embedded = try await GatewayAuthenticator(configuration: .embeddedDefault)
        #expect(try await embedded.principal(for: TestAuth.request(), remoteAddress: loopback) == Principal(subject: "anonymous", grants: AuthConfiguration.readOnly))
        #expect(try await embedded.principal(for: TestAuth.request(), remoteAddress: loopback6).isAnonymous)
        for address in [remote, remote6, nil] as [SocketAddress?] {
            await #expect(throws: SwitchyardError.self) { try await embedded.principal(for: TestAuth.request(), remoteAddress: address) }
        }
        do {
            _ = try await embedded.principal(for: TestAuth.request(), remoteAddress: remote)
        } catch {
            #expect(error.code == .unauthorized && error.httpStatus == .unauthorized)
            #expect(error.message.contains("non-loopback"))
        }

        let readOnly = Grants(publish: [], subscribe: [try ChannelPattern("quotes.*")])
        let open = try await TestAuth.authenticator(anonymous: .init(enabled: true, loopbackOnly: false, grants: readOnly))
        #expect(try await open.principal(for: TestAuth.request(), remoteAddress: remote).grants == readOnly)
        // Credentials, when sent, are checked even where anonymous access is open.
        await #expect(throws: SwitchyardError.self) {
            try await open.principal(for: TestAuth.request(headers: TestAuth.bearer("wrong")), remoteAddress: loopback)
        }
        let closed = try await TestAuth.authenticator()
        await #expect(throws: SwitchyardError.self) { try await closed.principal(for: TestAuth.request(), remoteAddress: loopback) }
        let key = try await closed.principal(for: TestAuth.request(headers: TestAuth.bearer(TestAuth.apiKey)), remoteAddress: remote)
        #expect(key.subject == "risk-service")
    }

    @Test func theEmbeddedDefaultLetsALiveLoopbackClientIn() async throws {
        let gateway = try TestGateway(authenticator: try await GatewayAuthenticator(configuration: .embeddedDefault))
        try await gateway.app.test(.live) { client in
            let channels = try await client.send(.get, "/v1/channels")
            #expect(channels.status == .ok, "\(channels.json)")
            let wrong = try await client.send(.get, "/v1/channels", headers: TestAuth.bearer("not-a-key"))
            #expect(wrong.status == .unauthorized)
        }
    }

    @Test func authenticatorRefusesBrokenKeys() async throws {
        await #expect(throws: GatewayConfigurationError.self) {
            try await GatewayAuthenticator(configuration: AuthConfiguration(jwtKeys: [.init(.es256(publicKeyPEM: "not a pem"))]))
        }
        await #expect(throws: GatewayConfigurationError.self) {
            try await GatewayAuthenticator(configuration: AuthConfiguration(jwtKeys: [.init(.hs256(secret: TestAuth.secret), kid: "k"), .init(.hs256(secret: TestAuth.secret), kid: "k")]))
        }
        do {
            _ = try await GatewayAuthenticator(configuration: AuthConfiguration(jwtKeys: [.init(.hs256(secret: "short"))]))
            Issue.record("a 5-byte HS256 secret was accepted")
        } catch {
            #expect(error.description == "auth.jwt_keys[0].secret: must be at least 32 bytes (the size of an HS256 hash)")
        }
        await #expect(throws: GatewayConfigurationError.self) {
            try await GatewayAuthenticator(configuration: AuthConfiguration(apiKeys: [.init(name: "anonymous", key: "k", grants: .all)]))
        }
        await #expect(throws: GatewayConfigurationError.self) {
            try await GatewayAuthenticator(configuration: AuthConfiguration(apiKeys: [.init(name: "a", key: "", grants: .all)]))
        }
    }

    @Test func healthProbesNeedNoCredentials() async throws {
        let gateway = try await Self.gateway()
        try await gateway.test { client in
            let health = try await client.send(.get, "/healthz")
            #expect(health.status == .ok)
            let ready = try await client.send(.get, "/readyz")
            #expect(ready.status == .ok)
            let contracts = try await client.send(.get, "/v1/contracts")
            #expect(contracts.status == .unauthorized)
        }
    }
}
