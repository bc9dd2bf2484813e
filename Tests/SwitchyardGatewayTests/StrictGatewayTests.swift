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
@Suite struct StrictGatewayTests {
    @Test func publishesGoThroughTheOutboxAndAnswerWithTheRelaysReceipt() async throws {
        let configuration = try TestEnvironment.configuration("REDIS_URL")
        let admin = try PostgresURL(try TestEnvironment.value("POSTGRES_URL"))
        let name = "sy_gw\(UInt32.random(in: .min ... .max))"
        try await Self.execute(admin, "CREATE DATABASE \(name)")
        var url = admin
        url.database = name
        let database = url
        try await RedisServerGate.shared.shared {
            let engine = RedisEngine(client: try RedisClient(configuration: configuration, logger: TestGateway.logger), logger: TestGateway.logger)
            let router = Switchyard.Router(
                contracts: try TestGateway.contracts(), engine: engine,
                configuration: RouterConfiguration(source: "gateway-tests", enforcesRateLimits: false), logger: TestGateway.logger)
            let strict = try StrictMode(
                url: database, router: router, relayConfiguration: Relay.Configuration(pollInterval: .milliseconds(50)), logger: TestGateway.logger)
            let app = buildApplication(router: router, configuration: GatewayConfiguration(port: 0), logger: TestGateway.logger, strictMode: strict)
            // The test client runs the application's services: the router (and its engine) and strict mode.
            try await app.test(.router) { client in
                var ready = try await client.send(.get, "/readyz")
                for _ in 0..<200 where ready.status != .ok {
                    try await Task.sleep(for: .milliseconds(50))
                    ready = try await client.send(.get, "/readyz")
                }
                #expect(ready.status == .ok)
                let key: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "strict-\(name)"]
                let first = try await client.send(.post, "/v1/channels/trades:fill/events", body: #"{"qty":1}"#, headers: key)
                #expect(first.status == .created, "\(first.json)")
                let again = try await client.send(.post, "/v1/channels/trades:fill/events", body: #"{"qty":1}"#, headers: key)
                #expect(again.status == .ok && again.json["duplicate"] == true && again.json["sequence_number"] == first.json["sequence_number"])
                let refused = try await client.send(.post, "/v1/channels/trades:fill/events", body: #"{"qty":"many"}"#)
                #expect(refused.errorType == "validation_error")
                let latest = try await client.send(.get, "/v1/channels/trades:fill/latest")
                #expect(latest.json["event_id"] == first.json["event_id"])
            }
        }
        try await Self.execute(admin, "DROP DATABASE \(name) WITH (FORCE)")
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
