import JSONSchema
import Switchyard

extension DemoSimulation {
    /// One heartbeat per simulated service, in REC.IO's `system:health_check` shape.
    mutating func heartbeats(at now: Timestamp) -> [PublishRequest] {
        let uptime = Int64(Double(steps) * configuration.tickSeconds)
        var beats: [PublishRequest] = []
        for (index, service) in Self.services.enumerated() {
            checkCount += 1
            let degraded = service == "kalshi_watchdog" && alertCount > 0 && random.chance(0.3)
            let payload: JSONObject = [
                "service": .string(service), "status": .string(degraded ? "degraded" : "healthy"), "uptime": .int(uptime),
                "memory_usage": .double(Self.cents(96 + Double(index) * 40 + random.unit() * 12)),
                "cpu_usage": .double(Self.cents(2 + random.unit() * 18)),
                "active_connections": .int(Int64(1 + index + Int(random.next() % 4))), "version": "demo",
                "check_id": .string("health_\(checkCount)"), "timestamp": .string(now.description),
            ]
            beats.append(PublishRequest(channel: DemoChannels.healthCheck, payload: .object(payload), source: service))
        }
        return beats
    }

    /// An alert of the simulated exchange watchdog on `system:error_alert`.
    mutating func watchdogAlert(at now: Timestamp) -> PublishRequest {
        alertCount += 1
        let kinds: [(type: String, severity: String, message: String)] = [
            ("connection_timeout", "medium", "Kalshi websocket did not answer within 10 s; reconnecting"),
            ("stale_quotes", "low", "no Kalshi orderbook update for 15 s on KXBTCD-DEMO"),
            ("rate_limited", "high", "Kalshi REST API answered 429 three times in a row"),
        ]
        let kind = kinds[Int(random.next() % UInt64(kinds.count))]
        let payload: JSONObject = [
            "service": "kalshi_watchdog", "severity": .string(kind.severity), "alert_type": .string(kind.type),
            "message": .string(kind.message), "alert_id": .string("alert_\(alertCount)"),
            "retry_count": .int(Int64(random.next() % 4)), "escalation_level": 1, "resolved": false,
            "timestamp": .string(now.description), "details": ["endpoint": "wss://demo.kalshi.invalid/trade-api/ws/v2", "timeout_s": 10],
        ]
        return PublishRequest(channel: DemoChannels.errorAlert, payload: .object(payload), source: "kalshi_watchdog")
    }
}
