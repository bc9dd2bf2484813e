import HummingbirdTesting
import HummingbirdWSClient
import JSONSchema
import NIOCore
import NIOPosix
import Prometheus
import RedisTestSupport
import Switchyard
import SwitchyardGateway
import Synchronization
import Testing

/// The per-connection and per-caller limits: patterns per WebSocket session, sessions per
/// principal, and the HTTP idle timeout. Each refusal is clear to the client and counted in
/// `switchyard_ws_refused_total{reason}`.
@Suite struct WebSocketCallerLimitTests {
    @Test func aSubscribePastThePatternLimitIsRefusedCountedAndChangesNothing() async throws {
        let gateway = try TestGateway(
            allowsUnknownChannels: true, webSocket: WebSocketConfiguration(maxPatternsPerSession: 3),
            metricsRegistry: PrometheusCollectorRegistry())
        let router = gateway.router
        try await gateway.live { client in
            try await client.conversation { conversation in
                try await conversation.subscribe(["p:1", "p:2"])
                try await conversation.send(#"{"type":"subscribe","patterns":["p:3","p:4"],"id":"over"}"#)
                let refusal = try await conversation.frame()
                #expect(refusal["type"] == "error" && refusal["id"] == "over")
                #expect(refusal["error"]?["error_type"] == "limit_exceeded")
                #expect(refusal["error"]?["details"]?["max_patterns"] == 3)
                let metrics = try await client.exposition()
                #expect(metrics["switchyard_ws_refused_total", ["reason": "patterns"]] == 1, "\(metrics.lines(containing: "ws_refused"))")

                // Up to the limit is fine, and the refused subscribe added nothing.
                try await conversation.subscribe(["p:3", "p:1"])
                try await WebSocketTests.publish(router, "p:4", 1)
                try await WebSocketTests.publish(router, "p:3", 1)
                let events = try await conversation.events(1)
                #expect(events.map(\.channel.rawValue) == ["p:3"])
            }
        }
    }

    @Test func aSessionPastTheLimitPerPrincipalIsClosedWithAnErrorAndCounted() async throws {
        let gateway = try TestGateway(
            webSocket: WebSocketConfiguration(maxSessionsPerPrincipal: 2), authenticator: try await TestAuth.authenticator(),
            metricsRegistry: PrometheusCollectorRegistry())
        let alice = try await TestAuth.hs256(TestAuth.claims("alice", subscribe: ["trades:*"]))
        let bob = try await TestAuth.hs256(TestAuth.claims("bob", subscribe: ["trades:*"]))
        try await gateway.live { client in
            @Sendable func session(_ token: String, _ body: @escaping @Sendable (inout Conversation) async throws -> Void) async throws -> WebSocketCloseFrame? {
                try await client.ws("/v1/ws?token=\(token)") { inbound, outbound, _ in
                    var conversation = Conversation(inbound, outbound)
                    try await body(&conversation)
                }
            }
            _ = try await session(alice) { first in
                try await first.subscribe(["trades:*"])
                _ = try await session(alice) { second in
                    try await second.subscribe(["trades:*"])
                    // Read on a raw socket: the refusal follows the 101 answer at once, in the same packet.
                    let third = try await RawWebSocket.connect(port: try #require(client.port), path: "/v1/ws?token=\(alice)")
                    guard case .text(let text)? = try await third.reply(within: 30) else { Issue.record("no error frame"); return }
                    let frame = try JSONValue(parsing: Array(text.utf8))
                    #expect(frame["type"] == "error" && frame["error"]?["error_type"] == "limit_exceeded", "\(text)")
                    #expect(frame["error"]?["details"]?["max_sessions"] == 2)
                    #expect(try await third.reply(within: 30) == .close(WebSocketCloseCode.policyViolation))
                    try? await third.channel.close()
                    // Another principal is counted apart.
                    _ = try await session(bob) { other in try await other.subscribe(["trades:*"]) }
                    let metrics = try await client.exposition()
                    #expect(metrics["switchyard_ws_refused_total", ["reason": "sessions"]] == 1, "\(metrics.lines(containing: "ws_refused"))")
                }
            }
            // Closed sessions no longer count: alice may open one again.
            let reopened = try await eventually {
                (try? await session(alice) { again in try await again.subscribe(["trades:*"]) }) != nil
            }
            #expect(reopened)
        }
    }

    /// Anonymous callers have no subject of their own: they are counted per peer address.
    @Test func anonymousSessionsAreCountedPerAddress() async throws {
        let gateway = try TestGateway(webSocket: WebSocketConfiguration(maxSessionsPerPrincipal: 1))
        try await gateway.live { client in
            try await client.conversation { first in
                try await first.subscribe(["trades:*"])
                let second = try await RawWebSocket.connect(port: try #require(client.port))
                guard case .text(let text)? = try await second.reply(within: 30) else { Issue.record("no error frame"); return }
                #expect(text.contains(#""error_type":"limit_exceeded""#), "\(text)")
                #expect(try await second.reply(within: 30) == .close(WebSocketCloseCode.policyViolation))
                try? await second.channel.close()
            }
        }
    }

    /// A connection left idle after its request is closed by the server; without the timeout it
    /// would stay open until the test's deadline. (3 s: the request must be written before the
    /// same timeout closes the new connection, and a loaded machine took over a second once.)
    @Test func anIdleHTTPConnectionIsClosed() async throws {
        let gateway = try TestGateway(idleTimeout: .seconds(3))
        try await gateway.live { client in
            let port = try #require(client.port)
            let collector = RawWebSocket.Collector()
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) } }
                .connect(host: "127.0.0.1", port: port).get()
            try await channel.writeAndFlush(ByteBuffer(string: "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
            #expect(try await eventually { collector.state.withLock { $0.closed } }, "the idle connection was closed within 30 s")
            let answer = collector.state.withLock { String(buffer: $0.bytes) }
            #expect(answer.hasPrefix("HTTP/1.1 200"), "the request was answered before the close: \(answer.prefix(40))")
        }
    }

    /// A resume of the largest sequence number (whose next one does not exist) and a resume of
    /// more channels than a subscribe may hold are refused with an error frame; the gateway keeps
    /// serving the session.
    @Test func outOfRangeAndOversizedResumesAreRefused() async throws {
        let gateway = try TestGateway(allowsUnknownChannels: true)
        try await gateway.live { client in
            let port = try #require(client.port)
            let socket = try await RawWebSocket.connect(port: port)
            func send(_ text: String) async throws -> JSONValue? {
                try await socket.write(RawWebSocket.frame(opcode: 0x1, Array(text.utf8)))
                guard case .text(let reply)? = try await socket.reply(within: 30) else { return nil }
                return try JSONValue(parsing: Array(reply.utf8))
            }
            let largest = try await send(#"{"type":"subscribe","patterns":["resume:a"],"resume":{"resume:a":\#(Int64.max)}}"#)
            #expect(largest?["type"] == "error" && largest?["error"]?["details"]?["invalid_fields"]?["resume.resume:a"] != nil, "\(largest?.text ?? "nothing")")
            // 1,001 channels: one more than a subscribe may resume.
            let names = (0...1000).map { #""resume:c\#($0)":1"# }.joined(separator: ",")
            let many = try await send(#"{"type":"subscribe","patterns":["resume:*"],"resume":{\#(names)}}"#)
            #expect(many?["error"]?["error_type"] == "limit_exceeded", "\(many?.text ?? "nothing")")
            let fine = try await send(#"{"type":"subscribe","patterns":["resume:a"],"resume":{"resume:a":0}}"#)
            #expect(fine?["type"] == "subscribed", "\(fine?.text ?? "nothing")")
        }
    }

    /// A client that connects and sends nothing, or sends its request head a byte at a time and
    /// never finishes it (slowloris), is closed once the idle timeout has passed, and counted.
    @Test func aConnectionThatNeverFinishesItsRequestHeadIsClosed() async throws {
        let registry = PrometheusCollectorRegistry()
        let gateway = try TestGateway(metricsRegistry: registry, idleTimeout: .seconds(1))
        try await gateway.live { client in
            let port = try #require(client.port)
            func connect() async throws -> (any Channel, RawWebSocket.Collector) {
                let collector = RawWebSocket.Collector()
                let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) } }
                    .connect(host: "127.0.0.1", port: port).get()
                return (channel, collector)
            }
            let (silent, silentCollector) = try await connect()
            let (slow, slowCollector) = try await connect()
            // Empty lines before the request line end no head: HTTP parsers skip them.
            let (blank, blankCollector) = try await connect()
            // On a loaded machine the idle timeout may close it before this write: that is the
            // outcome checked below, so a write to a closed connection is not the test's failure.
            try? await blank.writeAndFlush(ByteBuffer(string: "\r\n\r\n\r\n"))
            // A byte every 200 ms: the connection is never quiet for a whole second.
            let head = Array("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: ".utf8) + Array(repeating: UInt8(ascii: "a"), count: 200)
            var sent = 0
            let started = ContinuousClock.now
            while !slowCollector.state.withLock({ $0.closed }), ContinuousClock.now - started < .seconds(30), sent < head.count {
                try? await slow.writeAndFlush(ByteBuffer(bytes: [head[sent]]))
                sent += 1
                // The slow client's pace is the behaviour under test.
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(slowCollector.state.withLock { $0.closed && $0.bytes.readableBytes == 0 }, "the slow head was closed, unanswered, after \(sent) bytes")
            // Their deadlines passed with the slow one's; on a busy machine the closes may still be on their way.
            #expect(try await eventually(timeout: .seconds(20)) { silentCollector.state.withLock { $0.closed } }, "the silent connection was closed")
            #expect(
                try await eventually(timeout: .seconds(20)) { blankCollector.state.withLock { $0.closed } },
                "the connection that sent only empty lines was closed")
            // The test client's own connection, unused so far, is closed by the same deadline (a
            // fourth count): ask on a new one.
            let metrics = Exposition(try await RawHTTP.get(port: port, "/metrics"))
            #expect((metrics["switchyard_gateway_refused_total", ["reason": "request_head_timeout"]] ?? 0) >= 3)
            silent.close(promise: nil)
            blank.close(promise: nil)
            slow.close(promise: nil)
        }
    }
}
