import Foundation
import Hummingbird
import HummingbirdTesting
import JSONSchema
import RedisTestSupport
import Switchyard
import SwitchyardGateway
import SwitchyardServer
import Testing

/// `serve --spool`: the gateway built from a configuration keeps publishes in its local spool while
/// Redis is unreachable, answers 202, and stores them in order once a redis-server listens.
/// Each test runs a redis-server of its own on a free port, started only when the test says so.
@Suite struct ServeSpoolTests {
    /// A redis-server on `port`, not yet started.
    final class PrivateRedis: Sendable {
        let port: Int
        let process = Process()

        init(port: Int) {
            self.port = port
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["redis-server", "--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
            process.standardOutput = FileHandle.nullDevice
        }

        var url: String { "redis://127.0.0.1:\(port)" }

        func start() throws { try process.run() }

        deinit {
            // SIGKILL: a redis-server may take its time over SIGTERM.
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
    }

    static func replayed(_ client: any TestClientProtocol, _ channel: String) async throws -> [Envelope] {
        let answer = try await client.send(.get, "/v1/replay?channel=\(channel)&since=1")
        guard answer.status == .ok else { return [] }
        return try (answer.json["events"]?.arrayValue ?? []).map { try Envelope(json: $0) }
    }

    @Test func publishesWhileRedisIsUnreachableAreAcceptedAndStoredInOrderWhenItListens() async throws {
        let redis = PrivateRedis(port: try await freeLoopbackPort())
        let spool = NSTemporaryDirectory() + "switchyard-serve-\(UUID().uuidString).spool"
        defer { try? FileManager.default.removeItem(atPath: spool) }
        let configuration = ServerConfiguration(
            gateway: GatewayConfiguration(port: 0, authenticator: OpenAuthenticator()), engine: EngineSettings(redisURL: redis.url, spoolFile: spool),
            allowsUnknownChannels: true)
        #expect(configuration.effectiveEngine.spoolFile == spool)
        let app = try buildApplication(configuration: configuration, logger: TestGateway.logger)
        try await withDeadline(90) {
            try await app.test(.router) { client in
                let first = try await client.send(.post, "/v1/channels/spooltest:a/events", body: #"{"n":1}"#)
                #expect(first.status == .accepted, "\(first.json)")
                #expect(first.json["status"] == "spooled" && first.json["stream_id"] == "spooled")
                #expect(first.json["sequence_number"] == nil, "a spooled event has no sequence number yet")
                let batch = try await client.send(.post, "/v1/events:batch", body: #"""
                    {"events":[{"channel":"spooltest:a","data":{"n":2}},{"channel":"spooltest:b","data":{"n":1}}]}
                    """#)
                #expect(batch.status == .accepted, "\(batch.json)")
                #expect(batch.json["receipts"]?.arrayValue?.allSatisfy { $0["stream_id"] == "spooled" } == true)
                // Redis is away: nothing readable yet, and the gateway says the spool holds events.
                #expect(try await client.send(.get, "/readyz").status == .serviceUnavailable)

                try redis.start()
                var stored: [Envelope] = []
                let drained = try await eventually {
                    stored = try await Self.replayed(client, "spooltest:a")
                    return stored.count == 2
                }
                #expect(drained, "the spool was not replayed into Redis")
                #expect(stored.map(\.sequenceNumber) == [1, 2])
                #expect(stored.map { $0.data["n"] } == [1, 2], "the publish order holds")
                #expect(stored.map(\.eventID.description) == [first.json["event_id"]?.stringValue, batch.json["receipts"]?.arrayValue?.first?["event_id"]?.stringValue])
                #expect(try await Self.replayed(client, "spooltest:b").map(\.sequenceNumber) == [1])

                let after = try await client.send(.post, "/v1/channels/spooltest:a/events", body: #"{"n":3}"#)
                #expect(after.status == .created && after.json["status"] == "stored", "\(after.json)")
                #expect(after.json["sequence_number"] == 3)
            }
        }
        #expect(try String(contentsOfFile: spool, encoding: .utf8).isEmpty, "a drained spool is truncated")
    }

    @Test func withoutASpoolAPublishWhileRedisIsUnreachableIsRefusedAndNothingIsKept() async throws {
        let redis = PrivateRedis(port: try await freeLoopbackPort())
        let configuration = ServerConfiguration(
            gateway: GatewayConfiguration(port: 0, authenticator: OpenAuthenticator()), engine: EngineSettings(redisURL: redis.url), allowsUnknownChannels: true)
        let app = try buildApplication(configuration: configuration, logger: TestGateway.logger)
        try await withDeadline(90) {
            try await app.test(.router) { client in
                let refused = try await client.send(.post, "/v1/channels/spooltest:c/events", body: #"{"n":1}"#)
                #expect(refused.status == .serviceUnavailable, "\(refused.json)")
                #expect(refused.errorType == "engine_unavailable")
                try redis.start()
                let stored = try await eventually {
                    try await client.send(.post, "/v1/channels/spooltest:c/events", body: #"{"n":2}"#).status == .created
                }
                #expect(stored)
                #expect(try await Self.replayed(client, "spooltest:c").map { $0.data["n"] } == [2], "the refused publish was not kept")
            }
        }
    }

    @Test func theSpoolAppliesToTheRedisEngineOutsideStrictMode() async throws {
        let settings = try ServerSettings(parsing: Array(#"{"redis":"redis://127.0.0.1:6379","spool_file":"serve.spool"}"#.utf8), directory: "/var/lib/switchyard")
        #expect(settings.spoolFile == "/var/lib/switchyard/serve.spool")
        let environment = try ServerSettings(environment: ["SWITCHYARD_SPOOL": "/elsewhere.spool"])
        let configuration = try await ServerConfiguration(settings: settings.overridden(by: environment))
        #expect(configuration.effectiveEngine.spoolFile == "/elsewhere.spool")
        #expect(configuration.description.contains("spool: /elsewhere.spool"))
        var strict = configuration
        strict.postgresURL = "postgres://app@127.0.0.1:5432/trading"
        #expect(strict.effectiveEngine.spoolFile == nil, "in strict mode the outbox keeps publishes")
        var embedded = configuration
        embedded.engine.redisURL = nil
        #expect(embedded.effectiveEngine.spoolFile == nil)
        let wrongType = #expect(throws: GatewayConfigurationError.self) { try ServerSettings(parsing: Array(#"{"spool_file": 1}"#.utf8)) }
        #expect(wrongType?.description == "spool_file: must be a string")
    }
}
