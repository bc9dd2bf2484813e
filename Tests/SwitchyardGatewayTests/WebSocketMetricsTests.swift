import HummingbirdTesting
import HummingbirdWSClient
import JSONSchema
import Prometheus
import RedisTestSupport
import Switchyard
import SwitchyardGateway
import Testing

/// `switchyard_ws_connections`, `switchyard_ws_conflated_total` and
/// `switchyard_ws_disconnected_slow_total` on a real scrape of `GET /metrics`.
@Suite struct WebSocketMetricsTests {
    @Test func openSessionsAreCountedAndUncountedWhenTheyClose() async throws {
        let gateway = try TestGateway(metricsRegistry: PrometheusCollectorRegistry())
        try await gateway.live { client in
            try await client.conversation { conversation in
                try await conversation.subscribe(["trades:*"])
                let one = try await client.exposition()
                #expect(one["switchyard_ws_connections"] == 1, "\(one.lines(containing: "ws_"))")
                try await client.conversation { second in
                    try await second.subscribe(["trades:*"])
                    #expect(try await client.exposition()["switchyard_ws_connections"] == 2)
                }
            }
            let closed = try await eventually { try await client.exposition()["switchyard_ws_connections"] == 0 }
            #expect(closed)
        }
    }

    @Test func conflatedEventsAreCountedPerChannelLabel() async throws {
        let gateway = try TestGateway(
            allowsUnknownChannels: true, webSocket: WebSocketConfiguration(queueLimit: 4), metricsRegistry: PrometheusCollectorRegistry())
        try await gateway.live { client in
            try await client.conversation { conversation in
                try await conversation.subscribe(["market_data:*"])
                let rounds = try await gateway.publishUntil(client, channels: ["market_data:a"]) { metrics in
                    (metrics["switchyard_ws_conflated_total", ["channel": "other"]] ?? 0) > 0
                }
                var received = 0
                var last: Int64 = 0
                while last != rounds {
                    let frame = try await conversation.frame()
                    last = try Envelope(json: frame["envelope"] ?? .null).sequenceNumber
                    received += 1
                }
                let metrics = try await client.exposition()
                let conflated = metrics["switchyard_ws_conflated_total", ["channel": "other"]] ?? 0
                #expect(conflated > 0, "\(metrics.lines(containing: "ws_"))")
                #expect(Int(conflated) == Int(rounds) - received, "every event not received was conflated away")
                #expect(metrics["switchyard_ws_disconnected_slow_total"] == 0)
            }
        }
    }

    @Test func aSessionClosedForBeingSlowIsCounted() async throws {
        let gateway = try TestGateway(
            allowsUnknownChannels: true, webSocket: WebSocketConfiguration(queueLimit: 4), metricsRegistry: PrometheusCollectorRegistry())
        try await gateway.live { client in
            let close = try await client.conversation { conversation in
                try await conversation.subscribe(["trades:*"])
                _ = try await gateway.publishUntil(client, channels: ["trades:slow"]) { metrics in
                    metrics["switchyard_ws_disconnected_slow_total"] == 1
                }
                while try await conversation.next() != nil {}
            }
            #expect(close?.closeCode == .unknown(WebSocketCloseCode.slowConsumer))
            let counted = try await eventually { try await client.exposition()["switchyard_ws_disconnected_slow_total"] == 1 }
            #expect(counted)
        }
    }
}
