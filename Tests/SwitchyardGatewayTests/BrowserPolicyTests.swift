import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JSONSchema
import NIOCore
import NIOPosix
import Prometheus
import RedisTestSupport
import Switchyard
import SwitchyardGateway
import SwitchyardServer
import Synchronization
import RedisTestSupport
import Testing

/// One HTTP/1.1 exchange on a raw TCP connection, so a test controls every header a browser
/// would send (`Host`, `Origin`, `Content-Type`) byte for byte.
enum RawHTTP {
    final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let received = Mutex((bytes: [UInt8](), closed: false))

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let incoming = unwrapInboundIn(data)
            received.withLock { $0.bytes += incoming.readableBytesView }
        }

        func channelInactive(context: ChannelHandlerContext) {
            received.withLock { $0.closed = true }
        }
    }

    /// The answer's status code and head, read until the head is complete (and, for a `101`, no
    /// further). Fails after 30 s.
    static func exchange(port: Int, _ request: String) async throws -> (status: Int, head: String) {
        let collector = Collector()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) } }
            .connect(host: "127.0.0.1", port: port).get()
        defer { channel.close(promise: nil) }
        try await channel.writeAndFlush(ByteBuffer(string: request))
        var answer: (status: Int, head: String)?
        _ = try await eventually {
            let head: String? = collector.received.withLock { state in
                guard let end = state.bytes.firstRange(of: [13, 10, 13, 10]) else { return nil }
                return String(decoding: state.bytes[..<end.lowerBound], as: UTF8.self)
            }
            if let head, let status = head.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) { answer = (status, head) }
            return answer != nil
        }
        guard let answer else { throw RawWebSocket.UpgradeRefused(head: "no answer within 30 s") }
        return answer
    }

    /// The whole answer to `GET path` with `Connection: close`: head and body, read until the
    /// server closes. Fails after 30 s.
    static func get(port: Int, _ path: String) async throws -> String {
        let collector = Collector()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) } }
            .connect(host: "127.0.0.1", port: port).get()
        defer { channel.close(promise: nil) }
        try await channel.writeAndFlush(ByteBuffer(string: request("GET", path, host: "127.0.0.1:\(port)")))
        _ = try await eventually { collector.received.withLock { $0.closed } }
        return collector.received.withLock { String(decoding: $0.bytes, as: UTF8.self) }
    }

    /// A WebSocket handshake for `/v1/ws` with the given extra header lines.
    static func upgrade(host: String, _ lines: [String] = []) -> String {
        "GET /v1/ws HTTP/1.1\r\nHost: \(host)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            + lines.map { $0 + "\r\n" }.joined() + "\r\n"
    }

    /// A request with a body and `Connection: close`.
    static func request(_ method: String, _ path: String, host: String, body: String = "", _ lines: [String] = []) -> String {
        "\(method) \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\nContent-Length: \(body.utf8.count)\r\n"
            + lines.map { $0 + "\r\n" }.joined() + "\r\n" + body
    }
}

/// What a web page on another site can make a visitor's browser do to a gateway on the same
/// machine: open `/v1/ws`, send `no-cors` POSTs, and read the API through DNS rebinding. Each
/// attack runs against the real gateway with the embedded default auth (loopback clients in
/// without credentials), and nothing reaches the router.
@Suite struct BrowserPolicyTests {
    /// A gateway with the `serve` default auth, publishing allowed for anonymous loopback clients,
    /// so that only the browser checks stand between a page and the router.
    static func gateway(browser: BrowserPolicy = BrowserPolicy(), registry: PrometheusCollectorRegistry? = nil) async throws -> TestGateway {
        var auth = AuthConfiguration.embeddedDefault
        auth.anonymous.grants = .all
        return try TestGateway(authenticator: try await GatewayAuthenticator(configuration: auth), metricsRegistry: registry, browser: browser)
    }

    static func stored(_ gateway: TestGateway) async throws -> Int {
        try await gateway.router.replay(try ChannelPattern("trades:fill"), limit: 100).count
    }

    @Test func aCrossSiteWebSocketHandshakeIsRefusedAndSameOriginOnesAreNot() async throws {
        let registry = PrometheusCollectorRegistry()
        let gateway = try await Self.gateway(registry: registry)
        try await gateway.live { client in
            let port = try #require(client.port)
            let host = "127.0.0.1:\(port)"
            for origin in ["https://evil.example", "http://evil.example:\(port)", "null", "http://127.0.0.1.evil.example"] {
                // The upgrade is refused before the session starts (Hummingbird answers a refused upgrade 400).
                let refused = try await RawHTTP.exchange(port: port, RawHTTP.upgrade(host: host, ["Origin: \(origin)"]))
                #expect(refused.status != 101 && refused.status >= 400, "Origin \(origin): \(refused.head)")
            }
            for origin in ["http://\(host)", "http://localhost:5173", "http://127.0.0.1:3000", "http://[::1]:8000"] {
                let accepted = try await RawHTTP.exchange(port: port, RawHTTP.upgrade(host: host, ["Origin: \(origin)"]))
                #expect(accepted.status == 101, "Origin \(origin): \(accepted.head)")
            }
            let noOrigin = try await RawHTTP.exchange(port: port, RawHTTP.upgrade(host: host))
            #expect(noOrigin.status == 101, "a client that is not a browser sends no Origin")
            let metrics = try await client.exposition()
            #expect(metrics["switchyard_gateway_refused_total", ["reason": "origin"]] == 4)
        }
    }

    @Test func aCrossSiteFormPostStoresNothing() async throws {
        let gateway = try await Self.gateway()
        try await gateway.live { client in
            let port = try #require(client.port)
            let host = "127.0.0.1:\(port)"
            let body = #"{"qty":1}"#
            // What a `no-cors` fetch or an HTML form sends: a simple content type, from another origin.
            for contentType in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"] {
                let crossSite = try await RawHTTP.exchange(
                    port: port,
                    RawHTTP.request("POST", "/v1/channels/trades:fill/events", host: host, body: body, ["Origin: https://evil.example", "Content-Type: \(contentType)"]))
                #expect(crossSite.status == 403, "\(crossSite.head)")
                // Even without an Origin (a privacy-stripping browser), a simple content type is refused.
                let plain = try await RawHTTP.exchange(
                    port: port, RawHTTP.request("POST", "/v1/channels/trades:fill/events", host: host, body: body, ["Content-Type: \(contentType)"]))
                #expect(plain.status == 415, "\(plain.head)")
            }
            let none = try await RawHTTP.exchange(port: port, RawHTTP.request("POST", "/v1/channels/trades:fill/events", host: host, body: body))
            #expect(none.status == 415, "\(none.head)")
            let batch = try await RawHTTP.exchange(
                port: port,
                RawHTTP.request("POST", "/v1/events:batch", host: host, body: #"{"events":[{"channel":"trades:fill","data":{"qty":1}}]}"#, ["Content-Type: text/plain"]))
            #expect(batch.status == 415, "\(batch.head)")
            #expect(try await Self.stored(gateway) == 0, "nothing a page sent was stored")

            let json = try await RawHTTP.exchange(
                port: port,
                RawHTTP.request("POST", "/v1/channels/trades:fill/events", host: host, body: body, ["Content-Type: application/json; charset=utf-8"]))
            #expect(json.status == 201, "\(json.head)")
            #expect(try await Self.stored(gateway) == 1)
        }
    }

    @Test func aRebindingHostIsRefusedAndConfiguredNamesAreServed() async throws {
        let gateway = try await Self.gateway(browser: BrowserPolicy(allowedHosts: ["events.example.com", "*.trading.example"]))
        try await gateway.live { client in
            let port = try #require(client.port)
            for host in ["evil.example", "evil.example:\(port)", "events.example.com.evil.example", "trading.example"] {
                let answer = try await RawHTTP.exchange(port: port, RawHTTP.request("GET", "/v1/channels", host: host))
                #expect(answer.status == 403, "Host \(host): \(answer.head)")
                let health = try await RawHTTP.exchange(port: port, RawHTTP.request("GET", "/metrics", host: host))
                #expect(health.status == 403, "Host \(host) on an open path: \(health.head)")
            }
            for host in ["127.0.0.1:\(port)", "localhost:\(port)", "[::1]:\(port)", "10.0.0.5", "events.example.com", "EVENTS.example.com:443", "api.trading.example"] {
                let answer = try await RawHTTP.exchange(port: port, RawHTTP.request("GET", "/v1/channels", host: host))
                #expect(answer.status == 200, "Host \(host): \(answer.head)")
            }
        }
    }

    @Test func configuredOriginsAndTheWildcard() async throws {
        let listed = BrowserPolicy(allowedOrigins: ["https://app.example.com"])
        func allows(_ policy: BrowserPolicy, _ origin: String) -> Bool {
            policy.refusal(method: .get, authority: "10.0.0.5:8080", origin: origin, contentType: nil) == nil
        }
        #expect(allows(listed, "https://app.example.com"))
        #expect(allows(listed, "HTTPS://APP.EXAMPLE.COM"))
        #expect(!allows(listed, "http://app.example.com"), "the scheme is part of the origin")
        #expect(!allows(listed, "https://app.example.com:8443"))
        #expect(!allows(listed, "https://app.example.com.evil.example"))
        #expect(allows(BrowserPolicy(allowedOrigins: ["*"]), "https://anything.example"))
        // The gateway's own origin, with the scheme's default port written or not.
        let own = BrowserPolicy(allowedHosts: ["gateway.internal"])
        #expect(own.refusal(method: .get, authority: "gateway.internal", origin: "https://gateway.internal:443", contentType: nil) == nil)
        #expect(own.refusal(method: .get, authority: "gateway.internal:80", origin: "http://gateway.internal", contentType: nil) == nil)
    }
}

/// Who gets in, and with what, when nothing is configured.
@Suite struct DefaultAccessTests {
    @Test func aGatewayBuiltWithoutAnAuthenticatorLetsNobodyIn() async throws {
        let router = Switchyard.Router(contracts: try TestGateway.contracts(), engine: EmbeddedEngine(logger: TestGateway.logger), configuration: RouterConfiguration(source: "tests"), logger: TestGateway.logger)
        let app = try buildApplication(router: router, configuration: GatewayConfiguration(port: 0), logger: TestGateway.logger)
        try await app.test(.router) { client in
            let publish = try await client.send(.post, "/v1/channels/trades:fill/events", body: #"{"qty":1}"#)
            #expect(publish.status == .unauthorized, "\(publish.json)")
            #expect(try await client.send(.get, "/v1/channels").status == .unauthorized)
        }
        #expect(try await router.replay(try ChannelPattern("trades:fill"), limit: 10).isEmpty)
    }

    @Test(.needs(.redis)) func anonymousLoopbackClientsReadButDoNotPublishByDefault() async throws {
        let configuration = try await ServerConfiguration(settings: ServerSettings()).gateway
        let gateway = try TestGateway(authenticator: configuration.authenticator)
        try await gateway.router.publish(to: try ChannelName("trades:fill"), payload: ["qty": 1])
        try await gateway.live { client in
            let publish = try await client.send(.post, "/v1/channels/trades:fill/events", body: #"{"qty":2}"#)
            #expect(publish.status == .forbidden, "\(publish.json)")
            let replay = try await client.send(.get, "/v1/replay?channel=trades:fill&since=1")
            #expect(replay.status == .ok && replay.json["events"]?.arrayValue?.count == 1, "\(replay.json)")
            let port = try #require(client.port)
            let events = try await Conversation.collect(port: port, subscribe: "trades:fill")
            #expect(events == ["subscribed"], "a read-only client may subscribe")
            let published = try await Conversation.publish(port: port, channel: "trades:fill", data: #"{"qty":3}"#)
            #expect(published["error_type"] == "forbidden", "\(published.text)")
        }
        #expect(try await gateway.router.replay(try ChannelPattern("trades:fill"), limit: 10).count == 1)
    }

    @Test func allowAnonymousPublishTurnsPublishingOnForTheDefaultAuthOnly() async throws {
        let settings = ServerSettings(allowAnonymousPublish: true)
        let gateway = try TestGateway(authenticator: try await ServerConfiguration(settings: settings).gateway.authenticator)
        try await gateway.live { client in
            let answer = try await client.send(.post, "/v1/channels/trades:fill/events", body: #"{"qty":2}"#)
            #expect(answer.status == .created, "\(answer.json)")
        }
        let withAuth = ServerSettings(auth: TestAuth.configuration(), allowAnonymousPublish: true)
        let refused = await #expect(throws: GatewayConfigurationError.self) { _ = try await ServerConfiguration(settings: withAuth) }
        #expect(refused?.description.contains("auth.anonymous.grants.publish") == true, "\(String(describing: refused))")
        let environment = try ServerSettings(environment: ["SWITCHYARD_ALLOW_ANONYMOUS_PUBLISH": "true"])
        #expect(environment.allowAnonymousPublish == true)
        let file = try ServerSettings(parsing: Array(#"{"allow_anonymous_publish": true}"#.utf8))
        #expect(file.allowAnonymousPublish == true)
    }

    @Test func anonymousWithoutGrantsInTheConfigFileMeansNoGrants() async throws {
        let settings = try ServerSettings(parsing: Array(#"{"auth": {"anonymous": {"enabled": true}}}"#.utf8))
        #expect(settings.auth?.anonymous.grants == Grants.none)
        let gateway = try TestGateway(authenticator: try await ServerConfiguration(settings: settings).gateway.authenticator)
        try await gateway.router.publish(to: try ChannelName("trades:fill"), payload: ["qty": 1])
        try await gateway.live { client in
            let replay = try await client.send(.get, "/v1/replay?channel=trades:fill&since=1")
            let publish = try await client.send(.post, "/v1/channels/trades:fill/events", body: #"{"qty":2}"#)
            #expect(replay.status == .forbidden && publish.status == .forbidden, "\(replay.json) \(publish.json)")
        }
    }

    @Test func aRequestAProxyForwardedIsNotALoopbackClient() async throws {
        let configuration = try await ServerConfiguration(settings: ServerSettings()).gateway
        let gateway = try TestGateway(authenticator: configuration.authenticator)
        try await gateway.live { client in
            #expect(try await client.send(.get, "/v1/channels").status == .ok)
            for header in ["X-Forwarded-For: 203.0.113.9", "Forwarded: for=203.0.113.9", "X-Real-IP: 203.0.113.9"] {
                let parts = header.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                let answer = try await client.send(.get, "/v1/channels", headers: [HTTPField.Name(parts[0])!: parts[1]])
                #expect(answer.status == .unauthorized, "\(header): \(answer.json)")
            }
            var forwarded = TestAuth.bearer(TestAuth.apiKey)
            forwarded[HTTPField.Name("X-Forwarded-For")!] = "203.0.113.9"
            let keyed = try await client.send(.get, "/v1/channels", headers: forwarded)
            #expect(keyed.status == .unauthorized, "the default auth has no keys: a forwarded client has no way in")
        }
    }
}

extension Conversation {
    /// Subscribes to `pattern` on a raw WebSocket and returns the types of the frames that came
    /// within a second.
    static func collect(port: Int, subscribe pattern: String) async throws -> [String] {
        let socket = try await RawWebSocket.connect(port: port)
        try await socket.write(RawWebSocket.frame(opcode: 0x1, Array(#"{"type":"subscribe","patterns":["\#(pattern)"]}"#.utf8)))
        var types: [String] = []
        // Up to the `subscribed` reply, which ends the wait: a loaded machine may take seconds.
        while let reply = try await socket.reply(within: 30), case .text(let text) = reply {
            types.append((try JSONValue(parsing: Array(text.utf8)))["type"]?.stringValue ?? "?")
            if types.last == "subscribed" { break }
        }
        return types
    }

    /// Publishes on a raw WebSocket; returns the reply frame, or for an `error` frame its
    /// structured error (`{"error_type","message","details"}`).
    static func publish(port: Int, channel: String, data: String) async throws -> JSONValue {
        let socket = try await RawWebSocket.connect(port: port)
        try await socket.write(RawWebSocket.frame(opcode: 0x1, Array(#"{"type":"publish","channel":"\#(channel)","data":\#(data)}"#.utf8)))
        guard case .text(let text)? = try await socket.reply(within: 30) else { return .null }
        let frame = try JSONValue(parsing: Array(text.utf8))
        return frame["type"] == "error" ? frame["error"] ?? .null : frame
    }
}
