import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JSONSchema
import PostgresNIO
import RedisClient
import RedisTestSupport
import Switchyard
import SwitchyardGateway
import SwitchyardPostgres
import SwitchyardRedis
import Testing

/// `serve --postgres`: HTTP publishes go through the outbox, against the servers `scripts/test` starts.
@Suite(.needs(.redis, .postgres)) struct StrictGatewayTests {
    @Test func publishesGoThroughTheOutboxAndAnswerWithTheRelaysReceipt() async throws {
        let configuration = try TestEnvironment.configuration("REDIS_URL")
        try await Self.withDatabase("sy_gw") { database, name in
            // A channel of its own: other strict-mode tests publish on the shared Redis at the same time.
            let channel = "trades:fill_\(name)"
            let contracts = try ContractRegistry([
                try Contract(
                    channel: try ChannelPattern(channel), schema: ["type": "object", "required": ["qty"], "properties": ["qty": ["type": "integer"]]],
                    policy: ChannelPolicy(retentionSeconds: 3600)),
            ])
            try await RedisServerGate.shared.shared {
                let engine = RedisEngine(client: try RedisClient(configuration: configuration, logger: TestGateway.logger), logger: TestGateway.logger)
                let router = Switchyard.Router(
                    contracts: contracts, engine: engine,
                    configuration: RouterConfiguration(source: "gateway-tests", enforcesRateLimits: false), logger: TestGateway.logger)
                let strict = try StrictMode(
                    url: database, router: router, relayConfiguration: Relay.Configuration(pollInterval: .milliseconds(50)), logger: TestGateway.logger)
                let app = try buildApplication(router: router, configuration: GatewayConfiguration(port: 0, authenticator: OpenAuthenticator()), logger: TestGateway.logger, publisher: strict)
                // The test client runs the application's services: the router (and its engine) and strict mode.
                try await app.test(.router) { client in
                    #expect(try await eventually { try await client.send(.get, "/readyz").status == .ok })
                    let key: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "strict-\(name)"]
                    let first = try await client.send(.post, "/v1/channels/\(channel)/events", body: #"{"qty":1}"#, headers: key)
                    #expect(first.status == .created, "\(first.json)")
                    let again = try await client.send(.post, "/v1/channels/\(channel)/events", body: #"{"qty":1}"#, headers: key)
                    #expect(again.status == .ok && again.json["duplicate"] == true && again.json["sequence_number"] == first.json["sequence_number"])
                    let refused = try await client.send(.post, "/v1/channels/\(channel)/events", body: #"{"qty":"many"}"#)
                    #expect(refused.errorType == "validation_error")
                    let latest = try await client.send(.get, "/v1/channels/\(channel)/latest")
                    #expect(latest.json["event_id"] == first.json["event_id"])
                    // The outbox cannot set a state key with its row: a publish-and-set is refused, and stores nothing.
                    let withState = try await client.send(
                        .post, "/v1/events:batch",
                        body: #"{"events":[{"channel":"\#(channel)","data":{"qty":2},"state":{"key":"position:snapshot","value":{}}}]}"#)
                    #expect(withState.status == .unprocessableContent && withState.json["details"]?["invalid_fields"]?["events.0.state"] != nil)
                    let after = try await client.send(.get, "/v1/channels/\(channel)/latest")
                    #expect(after.json["event_id"] == first.json["event_id"])
                }
            }
        }
    }

    /// The caller's subject is the envelope `source` of outbox publishes, and WebSocket `publish`
    /// frames go through the outbox too: the archive, which only the relay writes, holds both.
    @Test func httpAndWebSocketPublishesCarryTheCallersSourceThroughTheOutbox() async throws {
        let configuration = try TestEnvironment.configuration("REDIS_URL")
        try await Self.withDatabase("sy_gws") { database, name in
            try await RedisServerGate.shared.shared {
                let engine = RedisEngine(client: try RedisClient(configuration: configuration, logger: TestGateway.logger), logger: TestGateway.logger)
                let router = Switchyard.Router(
                    contracts: try TestGateway.contracts(), engine: engine,
                    configuration: RouterConfiguration(source: "gateway-tests", enforcesRateLimits: false, allowsUnknownChannels: true),
                    logger: TestGateway.logger)
                let strict = try StrictMode(
                    url: database, router: router, relayConfiguration: Relay.Configuration(pollInterval: .milliseconds(50)), logger: TestGateway.logger)
                let app = try buildApplication(
                    router: router, configuration: GatewayConfiguration(port: 0, authenticator: HeaderAuthenticator()),
                    logger: TestGateway.logger, publisher: strict)
                let channel = "trades:src_\(name)"
                let grants: HTTPFields = [HTTPField.Name("X-Test-Publish")!: "trades:*", HTTPField.Name("X-Test-Subscribe")!: "trades:*"]
                try await withDeadline(120) {
                    try await app.test(.live) { client in
                        #expect(try await eventually { try await client.send(.get, "/readyz").status == .ok })
                        let http = try await client.send(.post, "/v1/channels/\(channel)/events", body: #"{"qty":1}"#, headers: grants)
                        #expect(http.status == .created, "\(http.json)")
                        let latest = try await client.send(.get, "/v1/channels/\(channel)/latest", headers: grants)
                        #expect(latest.json["source"] == "header-test")

                        let wsEventID = EventID.generate()
                        try await client.conversation(headers: grants) { conversation in
                            try await conversation.send(
                                #"{"type":"publish","id":7,"channel":"\#(channel)","event_id":"\#(wsEventID)","data":{"qty":2}}"#)
                            let reply = try await conversation.frame()
                            #expect(reply["type"] == "published" && reply["id"] == 7, "\(reply.text)")
                            if case .int(let first)? = http.json["sequence_number"] { #expect(reply["sequence_number"] == .int(first + 1)) }
                            try await conversation.send(#"{"type":"publish","id":8,"channel":"\#(channel)","data":"two"}"#)
                            let refused = try await conversation.frame()
                            #expect(refused["type"] == "error" && refused["error"]?["error_type"] == "validation_error", "\(refused.text)")
                        }
                        let archived = try await Self.archivedSources(database)
                        #expect(archived[http.json["event_id"]?.stringValue ?? ""] == "header-test")
                        #expect(archived[wsEventID.description] == "header-test")
                        #expect(archived.count == 2, "the refused frame wrote nothing: \(archived)")
                    }
                }
            }
        }
    }

    static func archivedSources(_ url: PostgresURL) async throws -> [String: String] {
        let connection = try await PostgresConnection.connect(
            on: PostgresClient.defaultEventLoopGroup.any(), configuration: try url.connectionConfiguration(), id: 1, logger: TestGateway.logger
        ).get()
        var sources: [String: String] = [:]
        do {
            let rows = try await connection.query("SELECT event_id::text, source FROM switchyard.archive", logger: TestGateway.logger)
            for try await (id, source) in rows.decode((String, String).self) { sources[id] = source }
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
        return sources
    }

    /// Runs `body` with a database of its own on the suite's PostgreSQL (its URL and name),
    /// dropped afterwards whether `body` succeeded or not.
    static func withDatabase(_ prefix: String, _ body: (PostgresURL, String) async throws -> Void) async throws {
        let admin = try PostgresURL(try TestEnvironment.value("POSTGRES_URL"))
        let name = "\(prefix)\(UInt32.random(in: .min ... .max))"
        try await execute(admin, "CREATE DATABASE \(name)")
        var database = admin
        database.database = name
        do {
            try await body(database, name)
        } catch {
            try? await execute(admin, "DROP DATABASE \(name) WITH (FORCE)")
            throw error
        }
        try await execute(admin, "DROP DATABASE \(name) WITH (FORCE)")
    }

    static func withDatabase(_ prefix: String, _ body: (PostgresURL) async throws -> Void) async throws {
        try await withDatabase(prefix) { database, _ in try await body(database) }
    }

    static func execute(_ url: PostgresURL, _ sql: String) async throws {
        let connection = try await PostgresConnection.connect(
            on: PostgresClient.defaultEventLoopGroup.any(), configuration: try url.connectionConfiguration(), id: 1, logger: TestGateway.logger
        ).get()
        do {
            try await connection.query(PostgresQuery(unsafeSQL: sql), logger: TestGateway.logger)
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
    }
}
