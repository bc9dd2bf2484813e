import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JSONSchema
import NIOCore
import Prometheus
import RedisClient
import RedisTestSupport
import Switchyard
import SwitchyardGateway
import SwitchyardServer
import SwitchyardRedis
import Synchronization
import Testing

/// `GET /metrics` through the gateway, each test with its own registry (no process-wide bootstrap).
@Suite struct MetricsRouteTests {
    @Test func publishRefusalDedupRateLimitAndConsumeAreCounted() async throws {
        let registry = PrometheusCollectorRegistry()
        let gateway = try TestGateway(metricsRegistry: registry)
        let handled = Atomic<Int>(0)
        try await gateway.test { client in
            #expect(try await client.send(.post, "/v1/channels/trades:fill/events", body: #"{"qty":1}"#).status == .created)
            #expect(try await client.send(.post, "/v1/channels/trades:fill/events", body: #"{"qty":2}"#).status == .created)
            let key: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "metrics-dedup"]
            #expect(try await client.send(.post, "/v1/channels/trades:fill/events", body: #"{"qty":3}"#, headers: key).status == .created)
            #expect(try await client.send(.post, "/v1/channels/trades:fill/events", body: #"{"qty":3}"#, headers: key).status == .ok)
            let invalid = try await client.send(.post, "/v1/channels/trades:fill/events", body: #"{"qty":"three"}"#)
            #expect(invalid.errorType == "validation_error")
            // `limited:*` allows 1 event/s with a burst of 1: back-to-back publishes meet a refusal,
            // unless the machine is so loaded that a second passes between two of them.
            var limitedCreated = 0
            var refused = false
            for _ in 0..<10 where !refused {
                let answer = try await client.send(.post, "/v1/channels/limited:a/events", body: "{}")
                if answer.status == .created { limitedCreated += 1 } else { refused = answer.errorType == "rate_limited" }
            }
            #expect(refused && limitedCreated >= 1)

            try await gateway.router.withConsumer(
                group: "fills", patterns: [try ChannelPattern("trades:fill")], handler: { _ in handled.add(1, ordering: .relaxed) }
            ) {
                let done = try await eventually { handled.load(ordering: .relaxed) == 3 }
                #expect(done)
            }

            let response = try await client.execute(uri: "/metrics", method: .get) { $0 }
            #expect(response.status == .ok)
            #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
            let metrics = Exposition(String(buffer: response.body))
            let fill = ["channel": "trades:fill"]
            #expect(metrics["switchyard_publishes_total", fill] == 3)
            #expect(metrics["redis_publishes_total", fill] == 3)
            #expect(metrics["switchyard_publishes_total", ["channel": "limited:*"]] == Double(limitedCreated))
            #expect(metrics["switchyard_publish_errors_total", ["channel": "trades:fill", "reason": "validation_error"]] == 1)
            #expect(metrics["switchyard_publish_errors_total", ["channel": "limited:*", "reason": "rate_limited"]] == 1)
            #expect(metrics["redis_publish_errors_total", fill] == 1)
            #expect(metrics["switchyard_dedup_dropped_total"] == 1)
            #expect(metrics["switchyard_rate_limited_total"] == 1)
            #expect(metrics["switchyard_publish_latency_seconds_count", fill] == 4)
            #expect(metrics["redis_publish_latency_seconds_count", fill] == 4)
            #expect(metrics["switchyard_message_size_bytes_count", fill] == 3)
            #expect(metrics["switchyard_message_size_bytes_bucket", ["channel": "trades:fill", "le": "256.0"]] == 3)
            #expect(metrics["switchyard_deliveries_total", ["group": "fills"]] == 3)
            #expect(metrics["switchyard_delivery_latency_seconds_count", ["group": "fills"]] == 3)
            // The group gauges come from the refresher's last pass, 50 ms apart in these tests.
            let refreshed = try await eventually {
                try await client.exposition()["switchyard_consumer_lag_entries", ["channel": "trades:fill", "group": "fills"]] == 0
            }
            #expect(refreshed)
        }
    }

    @Test func metricsNeedNoCredentials() async throws {
        let gateway = try TestGateway(authenticator: try await TestAuth.authenticator(), metricsRegistry: PrometheusCollectorRegistry())
        try await gateway.test { client in
            #expect(try await client.send(.get, "/v1/channels").status == .unauthorized)
            let metrics = try await client.execute(uri: "/metrics", method: .get) { $0.status }
            #expect(metrics == .ok)
        }
    }

    @Test func aMetricsTokenIsRequiredWhenConfigured() async throws {
        let registry = PrometheusCollectorRegistry()
        let token = "scrape-0123456789abcdef"
        let gateway = try TestGateway(metricsRegistry: registry, metricsToken: token)
        try await gateway.test { client in
            let without = try await client.send(.get, "/metrics")
            #expect(without.status == .unauthorized, "\(without.json)")
            let wrong = try await client.send(.get, "/metrics", headers: [.authorization: "Bearer scrape-0123456789abcdeX"])
            #expect(wrong.status == .unauthorized)
            let right = try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer \(token)"]) { $0 }
            #expect(right.status == .ok)
            let metrics = Exposition(String(buffer: right.body))
            #expect(metrics["switchyard_gateway_refused_total", ["reason": "metrics_token"]] == 2)
        }
        let settings = try ServerSettings(environment: ["SWITCHYARD_METRICS_TOKEN": token])
        #expect(try await ServerConfiguration(settings: settings).gateway.metricsToken == token)
        let short = await #expect(throws: GatewayConfigurationError.self) {
            _ = try await ServerConfiguration(settings: ServerSettings(metricsToken: "short"))
        }
        #expect(short?.description.contains("metrics_token") == true)
    }

    /// Scrapes read what the refresher last read: a hundred scrapes cost Redis nothing beyond the
    /// refresher's own pass. A redis-server of the test's own counts every command.
    @Test(.needs(.redis)) func scrapesDoNotReachTheEngine() async throws {
        let redis = ServeSpoolTests.PrivateRedis(port: try await freeLoopbackPort())
        try redis.start()
        let client = try RedisClient(configuration: try RedisConfiguration(url: redis.url), logger: TestGateway.logger)
        try #require(try await eventually { (try? await client.execute(PING())) != nil }, "the private redis-server did not come up")
        let engine = RedisEngine(client: try RedisClient(configuration: try RedisConfiguration(url: redis.url), logger: TestGateway.logger), logger: TestGateway.logger)
        let channel = try ChannelName("trades:fill")
        let registry = PrometheusCollectorRegistry()
        var configuration = GatewayConfiguration(port: 0, authenticator: OpenAuthenticator(), metricsRegistry: registry)
        configuration.metricsRefreshInterval = .seconds(3600)
        let router = Switchyard.Router(
            contracts: try TestGateway.contracts(), engine: engine,
            configuration: RouterConfiguration(source: "tests", metricsFactory: PrometheusMetricsFactory.switchyard(registry: registry)),
            logger: TestGateway.logger)
        try await router.publish(to: channel, payload: ["qty": 0])
        try await engine.createGroup("fills", on: channel, start: .newest)
        try await router.publish(to: channel, payload: ["qty": 1])
        let app = try buildApplication(router: router, configuration: configuration, logger: TestGateway.logger)
        try await withDeadline(90) {
            try await app.test(.router) { http in
                // The refresher's first pass, at start, to its end: `switchyard_redis_up` is the
                // last gauge a pass records, after its reachability probe.
                var seen = Exposition("")
                let first = try await eventually {
                    seen = try await http.exposition()
                    return seen["switchyard_consumer_lag_entries", ["channel": "trades:fill", "group": "fills"]] == 1 && seen["switchyard_redis_up"] == 1
                }
                #expect(first, "\(seen.lines(containing: "fills"))")
                let before = try await Self.commandCalls(client)
                for _ in 0..<100 { #expect(try await http.send(.get, "/metrics").status == .ok) }
                let after = try await Self.commandCalls(client)
                #expect(after == before, "scrapes ran \(after - before) of the commands a refresh runs")
            }
        }
    }

    /// The calls Redis has counted, in `INFO commandstats`, of the commands a refresh of the
    /// gauges runs: channel lookups, stream and group reads. Its reachability probe (`PING`) is
    /// left out: the client's pool pings its idle connections every 15 s as well, so a `PING`
    /// cannot tell a scrape from that check, and every refresh runs the group reads counted here.
    static func commandCalls(_ client: RedisClient) async throws -> Int {
        let refresh: Set<String> = ["xinfo", "xpending", "xrange", "xrevrange", "sscan", "scan"]
        let info = try await client.execute(GenericCommand("INFO", "commandstats")).string ?? ""
        return info.split(whereSeparator: \.isNewline).reduce(0) { total, line in
            guard line.hasPrefix("cmdstat_"), let colon = line.firstIndex(of: ":") else { return total }
            let name = line[line.index(line.startIndex, offsetBy: 8)..<colon].split(separator: "|").first.map(String.init) ?? ""
            guard refresh.contains(name), let calls = line[colon...].split(separator: ",").first?.split(separator: "=").last else { return total }
            return total + (Int(calls) ?? 0)
        }
    }

    @Test func lagGaugesFollowAGroupThatFallsBehindThenCatchesUp() async throws {
        try await Self.lag(engine: EmbeddedEngine(logger: TestGateway.logger), channel: "trades:fill")
    }

    @Test(.needs(.redis)) func lagGaugesOnTheRedisEngine() async throws {
        let configuration = try TestEnvironment.configuration("REDIS_URL")
        try await RedisServerGate.shared.shared {
            let engine = RedisEngine(client: try RedisClient(configuration: configuration, logger: TestGateway.logger), logger: TestGateway.logger)
            try await Self.lag(engine: engine, channel: "metrics:\(UUID().uuidString.prefix(8).lowercased())")
        }
    }

    /// A group created before two publishes 50 ms apart is behind by two entries and at least
    /// 50 ms; while its handler holds them, its oldest pending entry's idle time is its lag; once
    /// the handler has finished them both, every gauge reads 0.
    static func lag(engine: any Engine, channel name: String) async throws {
        let registry = PrometheusCollectorRegistry()
        let contracts = try ContractRegistry([
            try Contract(
                channel: try ChannelPattern(name), schema: ["type": "object", "required": ["qty"]],
                policy: ChannelPolicy(retentionSeconds: 3600)),
        ])
        let gateway = try TestGateway(engine: engine, contracts: contracts, metricsRegistry: registry)
        let channel = try ChannelName(name)
        let series = ["channel": name, "group": "laggards"]
        try await gateway.test { client in
            #expect(try await client.send(.post, "/v1/channels/\(name)/events", body: #"{"qty":0}"#).status == .created)
            try await gateway.router.engine.createGroup("laggards", on: channel, start: .newest)
            #expect(try await client.send(.post, "/v1/channels/\(name)/events", body: #"{"qty":1}"#).status == .created)
            // The time between the two entries is the lag in seconds the test reads.
            try await Task.sleep(for: .milliseconds(50))
            #expect(try await client.send(.post, "/v1/channels/\(name)/events", body: #"{"qty":2}"#).status == .created)

            var behind = Exposition("")
            let seen = try await eventually {
                behind = try await client.exposition()
                // One refresh sets the group gauges, then the Redis ones: wait for a whole pass
                // that began after the last publish.
                return behind["switchyard_consumer_lag_entries", series] == 2
                    && (behind["switchyard_consumer_lag_seconds", series] ?? 0) >= 0.05
                    && (!(engine is RedisEngine) || behind["switchyard_redis_up"] != nil)
            }
            #expect(seen, "\(behind.lines(containing: "laggards"))")
            #expect(behind["switchyard_pending", series] == 0)
            if engine is RedisEngine {
                #expect(behind["switchyard_redis_up"] == 1)
                #expect(behind["switchyard_spool_depth", ["engine": "redis"]] == 0)
            } else {
                #expect(behind["switchyard_redis_up"] == nil)
            }

            let handled = Atomic<Int>(0)
            let released = Latch()
            try await gateway.router.withConsumer(
                group: "laggards", patterns: [try ChannelPattern(name)],
                handler: { _ in
                    await released.wait()
                    handled.add(1, ordering: .relaxed)
                }
            ) {
                defer { released.open() }
                // Handed out but held by the handler: nothing undelivered, yet the oldest pending entry ages.
                var last = Exposition("")
                let held = try await eventually {
                    last = try await client.exposition()
                    return last["switchyard_consumer_lag_entries", series] == 0 && (last["switchyard_pending", series] ?? 0) >= 1
                        && (last["switchyard_consumer_lag_seconds", series] ?? 0) >= 0.3
                }
                #expect(held, "\(last.lines(containing: "laggards"))")
                released.open()
                let caughtUp = try await eventually {
                    last = try await client.exposition()
                    return last["switchyard_consumer_lag_entries", series] == 0 && last["switchyard_pending", series] == 0
                }
                #expect(caughtUp, "\(last.lines(containing: "laggards"))")
                #expect(last["switchyard_consumer_lag_seconds", series] == 0)
            }
            #expect(handled.load(ordering: .relaxed) == 2)
        }
    }
}

extension TestClientProtocol {
    /// `GET /metrics`, parsed.
    func exposition() async throws -> Exposition {
        try await execute(uri: "/metrics", method: .get) { Exposition(String(buffer: $0.body)) }
    }
}

/// Prometheus text exposition, parsed into samples: `name{label="value",…} number`.
struct Exposition: Sendable {
    struct Sample: Sendable {
        let name: String
        let labels: [String: String]
        let value: Double
    }

    let samples: [Sample]
    let text: String

    init(_ text: String) {
        self.text = text
        var samples: [Sample] = []
        for line in text.split(separator: "\n") where !line.hasPrefix("#") && !line.isEmpty {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            let series = line[..<space]
            var labels: [String: String] = [:]
            let name: Substring
            if let open = series.firstIndex(of: "{"), series.hasSuffix("}") {
                name = series[..<open]
                let body = series[series.index(after: open)..<series.index(before: series.endIndex)]
                for pair in body.split(separator: ",") {
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    guard parts.count == 2 else { continue }
                    labels[String(parts[0])] = String(parts[1].dropFirst().dropLast())
                }
            } else {
                name = series
            }
            samples.append(Sample(name: String(name), labels: labels, value: value))
        }
        self.samples = samples
    }

    /// The value of the sample with exactly these labels, or `nil`.
    subscript(name: String, labels: [String: String] = [:]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }

    func lines(containing needle: String) -> [String] {
        text.split(separator: "\n").filter { $0.contains(needle) }.map(String.init)
    }
}

