import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JSONSchema
import RedisClient
import RedisTestSupport
import Switchyard
import SwitchyardGateway
import SwitchyardRedis
import Testing

/// Each default rule made to fire for real and to resolve, seen on `system:error_alert` and
/// `GET /v1/alerts`. Rules run every 100 ms; thresholds are the defaults, windows shortened
/// where a test waits for one to pass.
@Suite struct AlertRouteTests {
    @Test func refusedPublishesAboveFivePercentFireErrorRateUntilTheRateFalls() async throws {
        let gateway = try TestGateway(contracts: try Alerts.contracts(), alerts: Alerts.configuration())
        try await gateway.test { client in
            for _ in 0..<20 { #expect(try await client.send(.post, "/v1/channels/trades:fill/events", body: #"{"qty":1}"#).status == .created) }
            for _ in 0..<5 { #expect(try await client.send(.post, "/v1/channels/trades:fill/events", body: #"{"qty":"x"}"#).errorType == "validation_error") }
            let id = try await Alerts.firing("error_rate", "trades:fill", gateway, client)
            // An evaluation may have come between the refusals: the firing alert's figures follow.
            var alert: JSONValue = .null
            let figures = try await eventually {
                alert = try await Alerts.listed(client).first { $0["alert_id"]?.stringValue == id } ?? .null
                return alert["details"]?["refused"] == 5 && alert["details"]?["publishes"] == 25
            }
            #expect(figures, "\(alert)")
            #expect(alert["severity"] == "high" && alert["service"] == "switchyard-gateway" && alert["resolved"] == false)
            try await Alerts.publishedOnce(id, gateway)
            // 100 more good publishes: 5 of 125 is 4 %, under the threshold.
            for _ in 0..<100 { _ = try await client.send(.post, "/v1/channels/trades:fill/events", body: #"{"qty":2}"#) }
            try await Alerts.resolved(id, gateway, client)
        }
    }

    @Test func aGroupMoreThanAThousandBehindFiresQueueDepthUntilItCatchesUp() async throws {
        let gateway = try TestGateway(contracts: try Alerts.contracts(), alerts: Alerts.configuration())
        let channel = try ChannelName("trades:fill")
        try await gateway.test { client in
            try await gateway.router.engine.createGroup("risk", on: channel, start: .beginning)
            let batch = (0..<1001).map { PublishRequest(channel: channel, payload: ["qty": .int(Int64($0))]) }
            _ = try await gateway.router.publish(Array(batch[..<500]))
            _ = try await gateway.router.publish(Array(batch[500...]))
            let id = try await Alerts.firing("queue_depth", "trades:fill risk", gateway, client)
            try await Alerts.publishedOnce(id, gateway)
            try await gateway.router.withConsumer(group: "risk", patterns: [try ChannelPattern("trades:fill")], handler: { _ in }) {
                try await Alerts.resolved(id, gateway, client)
            }
        }
    }

    @Test func aServiceWhoseHeartbeatsStopFiresUnresponsiveUntilItBeatsAgain() async throws {
        let gateway = try TestGateway(
            contracts: try Alerts.contracts(), health: .init(service: "switchyard-test", interval: .milliseconds(200)),
            alerts: Alerts.configuration { $0.serviceUnresponsive.threshold = 1 })
        let beat: @Sendable () -> JSONValue = {
            ["service": "kalshi_watchdog", "status": "healthy", "uptime": 120, "memory_usage": 148.2, "cpu_usage": 2.1,
             "active_connections": 1, "timestamp": .string(gateway.router.now.description)]
        }
        try await gateway.test { client in
            // The tracker's subscription starts with the services: publish until it has seen the beat.
            let seen = try await eventually {
                _ = try? await gateway.router.publish(to: HealthRouteTests.channel, payload: beat(), source: "kalshi_watchdog")
                return try await HealthRouteTests.status(of: "kalshi_watchdog", client) != nil
            }
            #expect(seen)
            let id = try await Alerts.firing("service_unresponsive", "kalshi_watchdog", gateway, client)
            try await gateway.router.publish(to: HealthRouteTests.channel, payload: beat(), source: "kalshi_watchdog")
            try await Alerts.resolved(id, gateway, client)
        }
    }

    @Test func hardCapTrimsOfUndeliveredEntriesFireRetentionHardCap() async throws {
        let engine = EmbeddedEngine(configuration: .init(maxEntriesPerChannel: 10), logger: TestGateway.logger)
        let gateway = try TestGateway(
            engine: engine, contracts: try Alerts.contracts(),
            alerts: Alerts.configuration {
                $0.retentionHardCap.window = .seconds(2)
                $0.queueDepth.threshold = 0
            })
        let channel = try ChannelName("trades:fill")
        try await gateway.test { client in
            try await engine.createGroup("pnl", on: channel, start: .beginning)
            // Trims are counted from the monitor's first reading of the streams (older ones may be
            // a restarted server's): the group one behind, reported by an evaluation, shows it was taken.
            try await gateway.router.publish(to: channel, payload: ["qty": 0])
            _ = try await Alerts.firing("queue_depth", "trades:fill pnl", gateway, client, onChannel: false)
            // One batch, stored in one step: an evaluation sees none of its trims or all 20, never
            // a part (29 single publishes on a busy machine let one run between them and fire on 4).
            try await gateway.router.publish((1..<30).map { PublishRequest(channel: channel, payload: ["qty": .int(Int64($0))]) })
            #expect(try await gateway.router.info(channel).trimmedUndelivered == 20)
            let id = try await Alerts.firing("retention_hard_cap", "trades:fill", gateway, client)
            let alert = try #require(try await Alerts.listed(client).first { $0["alert_id"]?.stringValue == id })
            #expect(alert["severity"] == "critical" && alert["details"]?["trimmed"] == 20)
            // No more trims: once the 2 s window has passed, it resolves.
            try await Alerts.resolved(id, gateway, client)
        }
    }

    @Test(.needs(.redis)) func slowPublishesFireProcessingLatency() async throws {
        let configuration = try TestEnvironment.configuration("REDIS_URL")
        let name = "alerts:latency_\(UInt32.random(in: .min ... .max))"
        let contract = try Contract(channel: try ChannelPattern(name), schema: ["type": "object"], policy: ChannelPolicy(retentionSeconds: 600))
        // CLIENT PAUSE holds every client's writes: no other Redis test may run meanwhile.
        try await RedisServerGate.shared.exclusive {
            let client = try RedisClient(configuration: configuration, logger: TestGateway.logger)
            let engine = RedisEngine(client: client, logger: TestGateway.logger)
            let gateway = try TestGateway(
                engine: engine, contracts: try Alerts.contracts([contract]),
                alerts: Alerts.configuration { $0.processingLatency.window = .seconds(3) })
            let channel = try ChannelName(name)
            try await gateway.test { http in
                // The first publish connects and loads the script; on a loaded machine it may need a retry.
                let connected = try await eventually { (try? await gateway.router.publish(to: channel, payload: [:])) != nil }
                #expect(connected)
                let pauser = try RedisClient(configuration: configuration, logger: TestGateway.logger)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await pauser.run() }
                    _ = try await pauser.execute(GenericCommand("CLIENT", "PAUSE", "400", "WRITE"))
                    try await withThrowingTaskGroup(of: Void.self) { publishes in
                        for n in 0..<16 { publishes.addTask { _ = try? await gateway.router.publish(to: channel, payload: ["n": .int(Int64(n))]) } }
                        try await publishes.waitForAll()
                    }
                    group.cancelAll()
                }
                let id = try await Alerts.firing("processing_latency", name, gateway, http)
                let alert = try #require(try await Alerts.listed(http).first { $0["alert_id"]?.stringValue == id })
                #expect((alert["details"]?["p95_seconds"]?.doubleValue ?? 0) > 0.1, "\(alert)")
                try await Alerts.resolved(id, gateway, http)
            }
        }
    }

    @Test func publishesHeldInTheSpoolFireSpoolInUseUntilRedisTakesThem() async throws {
        let port = try await freeLoopbackPort()
        let spool = NSTemporaryDirectory() + "switchyard-alerts-\(UUID().uuidString).spool"
        defer { try? FileManager.default.removeItem(atPath: spool) }
        let client = try RedisClient(configuration: try RedisConfiguration(url: "redis://127.0.0.1:\(port)"), logger: TestGateway.logger)
        let engine = RedisEngine(
            client: client, configuration: .init(spool: .init(path: spool), spoolRetryInterval: .milliseconds(100)), logger: TestGateway.logger)
        let gateway = try TestGateway(engine: engine, contracts: try Alerts.contracts(), alerts: Alerts.configuration())
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        server.arguments = ["redis-server", "--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        server.standardOutput = FileHandle.nullDevice
        // SIGKILL: a redis-server may take its time over SIGTERM.
        defer {
            if server.isRunning {
                kill(server.processIdentifier, SIGKILL)
            }
        }
        try await gateway.test { http in
            let receipt = try await gateway.router.publish(to: try ChannelName("trades:fill"), payload: ["qty": 1])
            #expect(receipt.streamID == RedisEngine.spooledPosition)
            // Redis is away: the alert is listed at once, and its message waits in the spool too.
            let id = try await Alerts.firing("spool_in_use", "spool", gateway, http, onChannel: false)
            try server.run()
            try await Alerts.resolved(id, gateway, http)
            #expect(try await engine.spoolDepth == 0)
        }
    }

    @Test func theListNeedsAReadGrantAndRefusesAnUnknownState() async throws {
        let gateway = try TestGateway(
            authenticator: try await TestAuth.authenticator(), contracts: try Alerts.contracts(), alerts: Alerts.configuration())
        try await gateway.test { client in
            let monitor = try await TestAuth.hs256(TestAuth.claims("monitor", subscribe: ["system:*"]))
            let trader = try await TestAuth.hs256(TestAuth.claims("trader", subscribe: ["trades:*"]))
            let answer = try await client.send(.get, "/v1/alerts", headers: TestAuth.bearer(monitor))
            #expect(answer.status == .ok && answer.json["channel"] == "system:error_alert" && answer.json["alerts"]?.arrayValue != nil)
            #expect(try await client.send(.get, "/v1/alerts", headers: TestAuth.bearer(trader)).status == .forbidden)
            #expect(try await client.send(.get, "/v1/alerts").status == .unauthorized)
            let bad = try await client.send(.get, "/v1/alerts?state=burning", headers: TestAuth.bearer(monitor))
            #expect(bad.status == .unprocessableContent && bad.errorType == "validation_error")
            #expect(bad.json["details"]?["invalid_fields"]?["state"] != nil, "\(bad.json)")
            let openapi = try await client.send(.get, "/v1/openapi.json", headers: TestAuth.bearer(monitor))
            #expect(openapi.json["paths"]?["/v1/alerts"]?["get"] != nil)
        }
    }

    @Test func withoutAlertsConfiguredTheRouteIsAbsent() async throws {
        let gateway = try TestGateway()
        try await gateway.test { client in
            let answer = try await client.send(.get, "/v1/alerts")
            #expect(answer.status == .notFound)
        }
    }
}
