import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import HummingbirdWSClient
import JSONSchema
import Logging
import NIOCore
import NIOSSL
import RedisClient
import RedisTestSupport
import Switchyard
import SwitchyardGateway
import SwitchyardServer
import Synchronization
import Testing

/// The gateway over HTTPS and WSS with the certificate `scripts/test` signs with its throwaway CA,
/// and `serve` reaching Redis over TLS with that CA.
@Suite struct GatewayTLSTests {
    static func clientTLS(trusting caFile: String) -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .file(caFile)
        return configuration
    }

    @Test("HTTPS and WSS succeed for a client trusting the CA; a client with another CA fails the handshake", .needs(.redis))
    func httpsAndWSS() async throws {
        let ca = try TestEnvironment.value("REDIS_TLS_CA"), wrongCA = try TestEnvironment.value("TLS_WRONG_CA")
        let tls = try GatewayConfiguration.serverTLS(
            certificateChainFile: try TestEnvironment.value("TLS_SERVER_CERT"), privateKeyFile: try TestEnvironment.value("TLS_SERVER_KEY"))
        let router = Switchyard.Router(
            contracts: try TestGateway.contracts(), engine: EmbeddedEngine(logger: TestGateway.logger),
            configuration: RouterConfiguration(source: "tls-tests"), logger: TestGateway.logger)
        let app = try buildApplication(router: router, configuration: GatewayConfiguration(port: 0, authenticator: OpenAuthenticator(), tls: tls), logger: TestGateway.logger)
        try await withDeadline(90) {
            try await app.test(.live) { client in
                let port = try #require(client.port)
                let https = TestClient(host: "127.0.0.1", port: port, configuration: .init(tlsConfiguration: Self.clientTLS(trusting: ca), serverName: "localhost"))
                https.connect()
                let health = try await https.get("/healthz")
                #expect(health.status == .ok)
                let published = try await https.post(
                    "/v1/channels/trades:fill/events", headers: [.contentType: "application/json"], body: ByteBuffer(string: #"{"qty":1}"#))
                #expect(published.status == .created)
                try await https.shutdown()

                let untrusting = TestClient(host: "127.0.0.1", port: port, configuration: .init(tlsConfiguration: Self.clientTLS(trusting: wrongCA), serverName: "localhost"))
                untrusting.connect()
                let refused = await #expect(throws: (any Error).self) { _ = try await untrusting.get("/healthz") }
                #expect(refused is NIOSSLError || refused is ChannelError, "the handshake fails and the connection closes: \(String(describing: refused))")
                try? await untrusting.shutdown()

                let frame = FirstFrame()
                try await WebSocketClient.connect(
                    url: "wss://localhost:\(port)/v1/ws", tlsConfiguration: Self.clientTLS(trusting: ca), logger: TestGateway.logger
                ) { inbound, outbound, _ in
                    try await outbound.write(.text(#"{"type":"subscribe","patterns":["trades:*"]}"#))
                    for try await message in inbound.messages(maxSize: 1 << 20) {
                        guard case .text(let text) = message else { continue }
                        frame.value.withLock { $0 = try? JSONValue(parsing: Array(text.utf8)) }
                        return
                    }
                }
                #expect(frame.value.withLock { $0 }?["type"] == "subscribed")
                let wss = await #expect(throws: (any Error).self) {
                    try await WebSocketClient.connect(
                        url: "wss://localhost:\(port)/v1/ws", tlsConfiguration: Self.clientTLS(trusting: wrongCA), logger: TestGateway.logger
                    ) { _, _, _ in }
                }
                #expect(wss is NIOSSLError, "\(String(describing: wss))")
            }
        }
    }

    @Test("a client that offers only TLS 1.0 or 1.1 fails the handshake; TLS 1.2 and 1.3 succeed", .needs(.redis))
    func oldTLSVersionsAreRefused() async throws {
        let ca = try TestEnvironment.value("REDIS_TLS_CA")
        let tls = try GatewayConfiguration.serverTLS(
            certificateChainFile: try TestEnvironment.value("TLS_SERVER_CERT"), privateKeyFile: try TestEnvironment.value("TLS_SERVER_KEY"))
        #expect(tls.minimumTLSVersion == .tlsv12)
        let router = Switchyard.Router(contracts: try TestGateway.contracts(), engine: EmbeddedEngine(logger: TestGateway.logger), configuration: RouterConfiguration(source: "tests"), logger: TestGateway.logger)
        let app = try buildApplication(router: router, configuration: GatewayConfiguration(port: 0, authenticator: OpenAuthenticator(), tls: tls), logger: TestGateway.logger)
        try await withDeadline(90) {
            try await app.test(.live) { client in
                let port = try #require(client.port)
                for (version, accepted) in [(TLSVersion.tlsv1, false), (.tlsv11, false), (.tlsv12, true), (.tlsv13, true)] {
                    var configuration = Self.clientTLS(trusting: ca)
                    configuration.minimumTLSVersion = version
                    configuration.maximumTLSVersion = version
                    let https = TestClient(host: "127.0.0.1", port: port, configuration: .init(tlsConfiguration: configuration, serverName: "localhost"))
                    https.connect()
                    let status = try? await https.get("/healthz").status
                    #expect((status == .ok) == accepted, "TLS \(version): \(String(describing: status))")
                    try? await https.shutdown()
                }
            }
        }
    }

    @Test("serve's engine reaches Redis over rediss:// trusting the configured CA", .needs(.redis))
    func redisOverTLS() async throws {
        let channel = "tlstest:\(UUID().uuidString.prefix(8).lowercased())"
        let configuration = ServerConfiguration(
            gateway: GatewayConfiguration(port: 0, authenticator: OpenAuthenticator()),
            engine: EngineSettings(redisURL: try TestEnvironment.value("REDIS_TLS_URL"), redisCAFile: try TestEnvironment.value("REDIS_TLS_CA")),
            allowsUnknownChannels: true)
        let app = try buildApplication(configuration: configuration, logger: TestGateway.logger)
        try await RedisServerGate.shared.shared {
            try await withDeadline(90) {
                try await app.test(.live) { client in
                    let answer = try await client.send(.post, "/v1/channels/\(channel)/events", body: #"{"n":1}"#)
                    #expect(answer.status == .created, "\(answer.json)")
                }
            }
            let check = try RedisClient(configuration: try TestEnvironment.configuration("REDIS_URL"), logger: TestGateway.logger)
            #expect(try await check.execute(GenericCommand("XLEN", "stream:{\(channel)}")).int == 1)
        }
    }

    @Test("a Redis CA with a plain redis:// URL, or a certificate without its key, is a configuration error")
    func misconfigurations() async throws {
        let plain = ServerConfiguration(engine: EngineSettings(redisURL: "redis://127.0.0.1:6379", redisCAFile: "/nonexistent/ca.pem"))
        #expect(throws: RedisError.self) { _ = try buildApplication(configuration: plain, logger: TestGateway.logger) }
        let settings = try ServerSettings(parsing: Array(#"{"tls_cert":"cert.pem","redis_ca":"ca.pem"}"#.utf8), directory: "/etc/switchyard")
        #expect(settings.tlsCert == "/etc/switchyard/cert.pem" && settings.redisCA == "/etc/switchyard/ca.pem")
        let missingKey = await #expect(throws: GatewayConfigurationError.self) { _ = try await ServerConfiguration(settings: settings) }
        #expect(missingKey?.key == "tls_key")
        let unreadable = await #expect(throws: GatewayConfigurationError.self) {
            _ = try await ServerConfiguration(settings: ServerSettings(tlsCert: "/nonexistent/cert.pem", tlsKey: "/nonexistent/key.pem"))
        }
        #expect(unreadable?.key == "tls_cert")
    }
}

/// The first frame a WebSocket handler saw.
final class FirstFrame: Sendable {
    let value = Mutex<JSONValue?>(nil)
}
