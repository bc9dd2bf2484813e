import Metrics
import Prometheus
import Switchyard
import Synchronization

/// The `/v1/ws` sessions' metrics: open sessions, conflated events per channel label, sessions
/// closed for being too slow, requests refused by a limit. Created once per gateway; the labelled
/// counters are cached.
final class WebSocketMetrics: Sendable {
    let factory: any MetricsFactory
    let contracts: ContractRegistry
    let connections: Metrics.Gauge
    let disconnectedSlow: Metrics.Counter
    /// `switchyard_ws_refused_total{reason="patterns"}`: subscribes past the patterns per session.
    let refusedPatterns: Metrics.Counter
    /// `switchyard_ws_refused_total{reason="sessions"}`: sessions past the sessions per principal.
    let refusedSessions: Metrics.Counter
    private let open = Atomic<Int>(0)
    private let conflatedCounters: LabelledCounters

    init(factory: any MetricsFactory, contracts: ContractRegistry) {
        self.factory = factory
        self.contracts = contracts
        connections = Metrics.Gauge(label: SwitchyardMetrics.Name.wsConnections, factory: factory)
        disconnectedSlow = Metrics.Counter(label: SwitchyardMetrics.Name.wsDisconnectedSlow, factory: factory)
        refusedPatterns = Metrics.Counter(label: SwitchyardMetrics.Name.wsRefused, dimensions: [(SwitchyardMetrics.Label.reason, "patterns")], factory: factory)
        refusedSessions = Metrics.Counter(label: SwitchyardMetrics.Name.wsRefused, dimensions: [(SwitchyardMetrics.Label.reason, "sessions")], factory: factory)
        conflatedCounters = LabelledCounters(label: SwitchyardMetrics.Name.wsConflated, dimension: SwitchyardMetrics.Label.channel, factory: factory)
    }

    /// A session opened.
    func opened() {
        connections.record(open.add(1, ordering: .relaxed).newValue)
    }

    /// A session ended.
    func closed() {
        connections.record(open.subtract(1, ordering: .relaxed).newValue)
    }

    /// Counts events of `channel` replaced by a newer one in a slow session's queue.
    func conflated(_ channel: ChannelName, count: Int) {
        conflatedCounters.increment(SwitchyardMetrics.channelLabel(for: channel, in: contracts), by: count)
    }
}

extension GatewayConfiguration {
    /// Where the gateway's own metrics go: ``metricsRegistry`` when set, else the router's factory,
    /// else the process's `MetricsSystem`.
    func metricsFactory(router: Switchyard.Router) -> any MetricsFactory {
        if let metricsRegistry { return PrometheusMetricsFactory.switchyard(registry: metricsRegistry) }
        return router.configuration.metricsFactory ?? MetricsSystem.factory
    }
}
