import Foundation
import HummingbirdTesting
import PostgresNIO
import Prometheus
import RedisClient
import RedisTestSupport
import Switchyard
import SwitchyardGateway
import SwitchyardPostgres
import SwitchyardRedis
import Testing

/// `switchyard_postgres_up` and `switchyard_relay_lag_seconds` on a real scrape, in strict mode
/// against the servers `scripts/test` starts.
@Suite(.needs(.redis, .postgres)) struct StrictMetricsTests {
    /// A committed outbox row that a transaction still open holds back (the relay publishes in
    /// transaction order) ages in `relay_lag_seconds`; once that transaction ends, the relay takes
    /// it and the lag is 0 again.
    @Test func relayLagFollowsACommittedRowTheRelayCannotTakeYet() async throws {
        let configuration = try TestEnvironment.configuration("REDIS_URL")
        try await StrictGatewayTests.withDatabase("sy_metrics") { url in
            try await RedisServerGate.shared.shared {
                let registry = PrometheusCollectorRegistry()
                let engine = RedisEngine(client: try RedisClient(configuration: configuration, logger: TestGateway.logger), logger: TestGateway.logger)
                let router = Switchyard.Router(
                    contracts: try TestGateway.contracts(), engine: engine,
                    configuration: RouterConfiguration(source: "gateway-tests", enforcesRateLimits: false), logger: TestGateway.logger)
                let strict = try StrictMode(
                    url: url, router: router, relayConfiguration: Relay.Configuration(pollInterval: .milliseconds(50)), logger: TestGateway.logger)
                let app = try buildApplication(
                    router: router, configuration: GatewayConfiguration(port: 0, authenticator: OpenAuthenticator(), metricsRefreshInterval: .milliseconds(50), metricsRegistry: registry), logger: TestGateway.logger, publisher: strict)
                try await app.test(.router) { client in
                    let ready = try await eventually { try await client.send(.get, "/readyz").status == .ok }
                    #expect(ready)
                    var idle = Exposition("")
                    let refreshed = try await eventually {
                        idle = try await client.exposition()
                        return idle["switchyard_postgres_up"] == 1 && idle["switchyard_relay_lag_seconds"] == 0
                    }
                    #expect(refreshed, "\(idle.lines(containing: "switchyard_"))")

                    let blocker = try await Self.connect(url)
                    let writer = try await Self.connect(url)
                    do {
                        try await blocker.query("BEGIN", logger: TestGateway.logger)
                        try await blocker.query("SELECT pg_current_xact_id()", logger: TestGateway.logger)
                        try await writer.query(
                            #"INSERT INTO switchyard.outbox (channel, payload) VALUES ('trades:fill', '{"qty":7}')"#, logger: TestGateway.logger)
                        var last = Exposition("")
                        let aged = try await eventually {
                            last = try await client.exposition()
                            return (last["switchyard_relay_lag_seconds"] ?? 0) >= 0.5
                        }
                        #expect(aged, "\(last.lines(containing: "relay_lag"))")
                        #expect(try await router.latest(try ChannelName("trades:fill")) == nil, "the relay is held back")
                        try await blocker.query("COMMIT", logger: TestGateway.logger)
                        let drained = try await eventually {
                            last = try await client.exposition()
                            return last["switchyard_relay_lag_seconds"] == 0
                        }
                        #expect(drained, "\(last.lines(containing: "relay_lag"))")
                        #expect(try await router.latest(try ChannelName("trades:fill"))?.data["qty"] == 7)
                    } catch {
                        try? await blocker.close()
                        try? await writer.close()
                        throw error
                    }
                    try await blocker.close()
                    try await writer.close()
                }
            }
        }
    }

    @Test func postgresUpIsZeroWhenNothingAnswers() async throws {
        var url = try PostgresURL(try TestEnvironment.value("POSTGRES_URL"))
        url.port = try await freeLoopbackPort()
        let registry = PrometheusCollectorRegistry()
        let router = Switchyard.Router(
            contracts: try TestGateway.contracts(), engine: EmbeddedEngine(logger: TestGateway.logger),
            configuration: RouterConfiguration(source: "gateway-tests"), logger: TestGateway.logger)
        let strict = try StrictMode(url: url, router: router, logger: TestGateway.logger)
        let app = try buildApplication(
            router: router, configuration: GatewayConfiguration(port: 0, authenticator: OpenAuthenticator(), metricsRefreshInterval: .milliseconds(50), metricsRegistry: registry), logger: TestGateway.logger, publisher: strict)
        try await app.test(.router) { client in
            var metrics = Exposition("")
            let refreshed = try await eventually {
                metrics = try await client.exposition()
                return metrics["switchyard_postgres_up"] != nil
            }
            #expect(refreshed)
            #expect(metrics["switchyard_postgres_up"] == 0)
            #expect(metrics["switchyard_relay_lag_seconds"] == nil)
        }
    }

    static func connect(_ url: PostgresURL) async throws -> PostgresConnection {
        try await PostgresConnection.connect(
            on: PostgresClient.defaultEventLoopGroup.any(), configuration: try url.connectionConfiguration(), id: Int.random(in: 1...1_000_000),
            logger: TestGateway.logger
        ).get()
    }
}
