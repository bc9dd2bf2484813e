import Foundation
import HummingbirdWSClient
import JSONSchema
import NIOWebSocket
import Logging
import RedisClient
import RedisTestSupport
import ServiceLifecycle
import Switchyard
import SwitchyardGateway
import SwitchyardRedis
import Testing

/// A graceful shutdown ends every WebSocket session and the whole service group, on both engines.
@Suite struct WebSocketShutdownTests {
    @Test func gracefulShutdownClosesSessionsOnTheEmbeddedEngine() async throws {
        try await Self.shutdown(engine: EmbeddedEngine(logger: TestGateway.logger))
    }

    @Test(.needs(.redis)) func gracefulShutdownClosesSessionsOnTheRedisEngine() async throws {
        try await RedisServerGate.shared.shared {
            let client = try RedisClient(configuration: try TestEnvironment.configuration(), logger: TestGateway.logger)
            try await Self.shutdown(engine: RedisEngine(client: client, logger: TestGateway.logger))
        }
    }

    /// Runs the gateway in a service group on a free port, holds a subscribed connection, shuts
    /// the group down gracefully, and checks that the connection was closed and the group
    /// returned. Fails after 90 s rather than hanging, and at once when the server cannot start.
    static func shutdown(engine: any Engine) async throws {
        let router = Switchyard.Router(
            contracts: try TestGateway.contracts(), engine: engine,
            configuration: RouterConfiguration(source: "gateway-tests", allowsUnknownChannels: true), logger: TestGateway.logger)
        let channel = "trades:shutdown_\(UUID().uuidString.prefix(8).lowercased())"
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = try buildApplication(
            router: router, configuration: GatewayConfiguration(port: 0, authenticator: OpenAuthenticator()),
            logger: TestGateway.logger,
            onServerRunning: { server in
                portContinuation.yield(server.localAddress?.port ?? 0)
                portContinuation.finish()
            })
        let group = ServiceGroup(services: [app], logger: TestGateway.logger)
        try await withDeadline(90) {
            let (frames, frameContinuation) = AsyncStream.makeStream(of: String.self)
            try await withThrowingTaskGroup(of: WebSocketCloseFrame?.self) { tasks in
                tasks.addTask {
                    defer { portContinuation.finish() }
                    try await group.run()
                    return nil
                }
                var portIterator = ports.makeAsyncIterator()
                let port = try #require(await portIterator.next(), "the gateway did not start listening")
                tasks.addTask {
                    // However the connection ends, the frames end: the test reads them below.
                    defer { frameContinuation.finish() }
                    return try await WebSocketClient.connect(url: "ws://127.0.0.1:\(port)/v1/ws", logger: TestGateway.logger) { inbound, outbound, _ in
                        try await outbound.write(.text(#"{"type":"subscribe","patterns":["\#(channel)"]}"#))
                        for try await message in inbound.messages(maxSize: 1 << 20) {
                            guard case .text(let text) = message, let frame = try? JSONValue(parsing: Array(text.utf8)) else { continue }
                            frameContinuation.yield(frame["type"] == "error" ? text : frame["type"]?.stringValue ?? "")
                        }
                    }
                }
                var types = frames.makeAsyncIterator()
                let first = await types.next()
                #expect(first == "subscribed", "the first frame was \(first ?? "none")")
                try await router.publish(to: try ChannelName(channel), payload: ["n": 1])
                #expect(await types.next() == "event")
                await group.triggerGracefulShutdown()
                var close: WebSocketCloseFrame?
                for try await result in tasks { if let result { close = result } }
                #expect(close?.closeCode == .normalClosure || close?.closeCode == .goingAway, "\(String(describing: close))")
            }
        }
    }
}
