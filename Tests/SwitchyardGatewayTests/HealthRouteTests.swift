import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JSONSchema
import RedisTestSupport
import Switchyard
import SwitchyardGateway
import Testing

/// Heartbeats on `system:health_check` and `GET /v1/health/services`, with short intervals.
@Suite struct HealthRouteTests {
    static let channel = HealthReporter.Configuration.defaultChannel

    @Test func heartbeatIsPublishedAndSatisfiesItsContract() async throws {
        let contracts = try ContractRegistry.shipped()
        let gateway = try TestGateway(
            contracts: contracts, health: .init(service: "switchyard-test", interval: .milliseconds(200), unresponsiveAfter: .seconds(30)))
        try await gateway.test { client in
            var beat: Envelope?
            let published = try await eventually {
                beat = try await gateway.router.latest(Self.channel)
                return beat != nil
            }
            #expect(published)
            let heartbeat = try #require(beat)
            let contract = try #require(contracts.contract(for: Self.channel))
            try contract.validate(heartbeat.data)
            #expect(heartbeat.source == "switchyard-test")
            #expect(heartbeat.data["service"] == "switchyard-test")
            #expect(heartbeat.data["status"] == "healthy")
            let memory = try #require(heartbeat.data["memory_usage"]?.doubleValue)
            #expect(memory > 1 && memory < 64 * 1024)
            let cpu = try #require(heartbeat.data["cpu_usage"]?.doubleValue)
            #expect(cpu >= 0 && cpu <= 100)
            let uptime = try #require(heartbeat.data["uptime"]?.doubleValue)
            #expect(uptime >= 0 && uptime < 86_400)
            #expect((heartbeat.data["active_connections"]?.doubleValue ?? -1) >= 0)

            let services = try await client.send(.get, "/v1/health/services")
            #expect(services.status == .ok)
            let own = services.json["services"]?.arrayValue?.first { $0["service"] == "switchyard-test" }
            #expect(own?["status"] == "healthy", "\(services.json)")
        }
    }

    @Test func aSilentServiceIsReportedUnresponsive() async throws {
        let gateway = try TestGateway(
            contracts: try ContractRegistry.shipped(),
            health: .init(service: "switchyard-test", interval: .milliseconds(200), unresponsiveAfter: .seconds(1)))
        try await gateway.test { client in
            let once: JSONValue = [
                "service": "kalshi_watchdog", "status": "degraded", "uptime": 120, "memory_usage": 148.2, "cpu_usage": 2.1,
                "active_connections": 1, "timestamp": .string(gateway.router.now.description),
            ]
            // The tracker's subscription starts with the services: publish until it has seen the beat.
            let seen = try await eventually {
                _ = try? await gateway.router.publish(to: Self.channel, payload: once, source: "kalshi_watchdog")
                return try await Self.status(of: "kalshi_watchdog", client) != nil
            }
            #expect(seen)
            let silent = try await eventually { try await Self.status(of: "kalshi_watchdog", client) == "unresponsive" }
            #expect(silent)
            // The gateway's own heartbeat keeps coming, so it is (again) healthy: on a loaded machine
            // one beat may come later than the second the test allows.
            let ownHealthy = try await eventually { try await Self.status(of: "switchyard-test", client) == "healthy" }
            #expect(ownHealthy)
        }
    }

    @Test func theServiceListNeedsASubscribeGrantOnTheHealthChannel() async throws {
        let gateway = try TestGateway(
            authenticator: try await TestAuth.authenticator(), contracts: try ContractRegistry.shipped(),
            health: .init(service: "switchyard-test", interval: .seconds(30)))
        try await gateway.test { client in
            let reader = try await TestAuth.hs256(TestAuth.claims("monitor", subscribe: ["system:*"]))
            let other = try await TestAuth.hs256(TestAuth.claims("trader", subscribe: ["trades:*"]))
            #expect(try await client.send(.get, "/v1/health/services", headers: TestAuth.bearer(reader)).status == .ok)
            #expect(try await client.send(.get, "/v1/health/services", headers: TestAuth.bearer(other)).status == .forbidden)
            #expect(try await client.send(.get, "/v1/health/services").status == .unauthorized)
        }
    }

    static func status(of service: String, _ client: any TestClientProtocol) async throws -> String? {
        let answer = try await client.send(.get, "/v1/health/services")
        return answer.json["services"]?.arrayValue?.first { $0["service"]?.stringValue == service }?["status"]?.stringValue
    }
}
