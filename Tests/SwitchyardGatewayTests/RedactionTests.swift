import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JSONSchema
import Logging
import Prometheus
import RedisClient
import RedisTestSupport
import Switchyard
import SwitchyardGateway
import SwitchyardServer
import SwitchyardPostgres
import Synchronization
import Testing

/// Secrets (Redis passwords, JWTs in `?token=` and `Authorization`, signing secrets) never appear in
/// the logs, error bodies or descriptions, or the `/metrics` scrape of a gateway built the way
/// `switchyard serve` builds it.
@Suite(.needs(.redis)) struct RedactionTests {
    @Test("serve with password-bearing Redis URLs, a refused login and JWTs: no secret in logs, errors or metrics")
    func noSecretAnywhere() async throws {
        let aclURL = try TestEnvironment.value("REDIS_ACL_URL")   // redis://limited:limited-pass@…
        let password = "limited-pass"
        #expect(aclURL.contains(":\(password)@"))
        let wrongPassword = "wrong-pw-\(UUID().uuidString.prefix(8))"
        let wrongURL = aclURL.replacingOccurrences(of: ":\(password)@", with: ":\(wrongPassword)@")
        let token = try await TestAuth.hs256(TestAuth.claims(publish: ["*"], subscribe: ["*"]), secret: "not-the-configured-secret-0123456789")
        let secrets = [password, wrongPassword, token, TestAuth.secret, TestAuth.apiKey]

        let logs = CapturedLogs()
        let seen = SeenText()
        for url in [aclURL, wrongURL] {
            let registry = PrometheusCollectorRegistry()
            var configuration = try await ServerConfiguration(settings: ServerSettings(redis: url, allowUnknownChannels: true, auth: TestAuth.configuration(anonymous: .init(enabled: true, loopbackOnly: true, grants: .all))))
            configuration.gateway.port = 0
            configuration.gateway.metricsRegistry = registry
            configuration.gateway.health = .init(interval: .milliseconds(100))
            configuration.postgresURL = nil
            seen.append("\(configuration)")
            seen.append(String(reflecting: try RedisConfiguration(url: url)))
            #expect(seen.all.last?.contains("limited:***@") == true, "\(seen.all.last ?? "")")
            let app = try buildApplication(configuration: configuration, logger: logs.logger(level: .trace))
            try await RedisServerGate.shared.shared {
                try await withDeadline(90) {
                    try await app.test(.live) { client in
                        let refused = try await client.send(.post, "/v1/channels/redaction:test/events", body: #"{"n":1}"#)
                        #expect(refused.errorType == "permission_denied", "\(refused.json)")
                        let viaQuery = try await client.send(.get, "/v1/channels?token=\(token)")
                        #expect(viaQuery.status == .unauthorized)
                        let viaHeader = try await client.send(.get, "/v1/channels", headers: [.authorization: "Bearer \(token)"])
                        #expect(viaHeader.status == .unauthorized)
                        let ws = try await client.send(.get, "/v1/ws?token=\(token)")
                        #expect(ws.status == .unauthorized)
                        // A few heartbeats fail on the refused user: their errors are logged too.
                        let failedBefore = Self.failedHeartbeats(logs)
                        #expect(try await eventually { Self.failedHeartbeats(logs) >= failedBefore + 2 }, "the heartbeats' failures were logged")
                        for answer in [refused, viaQuery, viaHeader, ws] { seen.append("\(answer.json) \(answer.headers)") }
                        let metrics = try await client.execute(uri: "/metrics", method: .get, headers: [:], body: nil) { String(buffer: $0.body) }
                        #expect(metrics.contains("switchyard_"), "the scrape is not empty")
                        seen.append(metrics)
                    }
                }
            }
        }
        let postgres = try PostgresURL("postgres://writer:pg-secret-77@db.internal:5432/switchyard?sslmode=require")
        seen.append("\(postgres)")
        seen.append(Redaction.text("connecting to postgres://writer:pg-secret-77@db.internal/switchyard failed"))
        #expect(!logs.all.isEmpty, "the gateway logged something")
        for line in logs.all { seen.append(line) }
        for secret in secrets + ["pg-secret-77"] {
            let leaks = seen.all.filter { $0.contains(secret) }
            #expect(leaks.isEmpty, "'\(secret.prefix(6))…' leaked in: \(leaks.map { $0.prefix(200) })")
        }
    }
}

extension RedactionTests {
    static func failedHeartbeats(_ logs: CapturedLogs) -> Int {
        logs.all.filter { $0.contains("heartbeat not published") }.count
    }
}

/// Text gathered from logs, errors and scrapes, from any task.
final class SeenText: Sendable {
    private let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }
    func append(_ line: String) { lines.withLock { $0.append(line) } }
}
