import Switchyard
import Testing

/// How a heartbeat's status follows from the engine and the spool.
@Suite struct HealthSignalsTests {
    @Test func statusFollowsTheEngineAndTheSpool() {
        #expect(HealthSignals(engineReachable: true).status == .healthy)
        #expect(HealthSignals(engineReachable: true, spoolConfigured: true, spoolDepth: 0).status == .healthy)
        #expect(HealthSignals(engineReachable: true, spoolConfigured: true, spoolDepth: 3).status == .degraded)
        #expect(HealthSignals(engineReachable: false, spoolConfigured: true).status == .degraded)
        #expect(HealthSignals(engineReachable: false, spoolConfigured: false).status == .unhealthy)
    }

    @Test func everyMetricNameFollowsTheScheme() {
        let names = [
            SwitchyardMetrics.Name.publishes, SwitchyardMetrics.Name.publishErrors, SwitchyardMetrics.Name.deliveries,
            SwitchyardMetrics.Name.deadLetters, SwitchyardMetrics.Name.dedupDropped, SwitchyardMetrics.Name.rateLimited,
            SwitchyardMetrics.Name.wsConflated, SwitchyardMetrics.Name.wsDisconnectedSlow, SwitchyardMetrics.Name.trimHardCap,
        ]
        for name in names { #expect(name.hasPrefix("switchyard_") && name.hasSuffix("_total"), "\(name)") }
        #expect(SwitchyardMetrics.Name.redisPublishes == "redis_publishes_total")
        #expect(SwitchyardMetrics.Name.redisPublishErrors == "redis_publish_errors_total")
        #expect(SwitchyardMetrics.Name.redisPublishLatency == "redis_publish_latency_seconds")
    }

    @Test func theChannelLabelIsTheCoveringContract() throws {
        let contracts = try ContractRegistry.shipped()
        #expect(SwitchyardMetrics.channelLabel(for: try ChannelName("trades:order_filled"), in: contracts) == "trades:order_filled")
        #expect(SwitchyardMetrics.channelLabel(for: try ChannelName("price.updated.AAPL"), in: contracts) == "price.updated.*")
        #expect(SwitchyardMetrics.channelLabel(for: try ChannelName("nobody:knows"), in: contracts) == SwitchyardMetrics.otherChannel)
    }
}
