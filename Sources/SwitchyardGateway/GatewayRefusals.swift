import Metrics
import Switchyard
import Synchronization

/// The counters of one metric, one per value of one label, each made on first use and then
/// reused: `switchyard_gateway_refused_total{reason}`, `switchyard_ws_conflated_total{channel}`.
final class LabelledCounters: Sendable {
    private let label: String
    private let dimension: String
    private let factory: any MetricsFactory
    private let counters = Mutex<[String: Metrics.Counter]>([:])

    init(label: String, dimension: String, factory: any MetricsFactory) {
        self.label = label
        self.dimension = dimension
        self.factory = factory
    }

    /// Adds `count` to the counter of `value`.
    func increment(_ value: String, by count: Int = 1) {
        let counter = counters.withLock { cache in
            if let counter = cache[value] { return counter }
            let counter = Metrics.Counter(label: label, dimensions: [(dimension, value)], factory: factory)
            cache[value] = counter
            return counter
        }
        counter.increment(by: Int64(count))
    }
}

/// The requests the gateway refuses before authentication, counted by reason
/// (``Switchyard/SwitchyardMetrics/Name/gatewayRefused``). Created once per gateway.
final class GatewayRefusals: Sendable {
    private let counters: LabelledCounters

    init(factory: any MetricsFactory) {
        counters = LabelledCounters(label: SwitchyardMetrics.Name.gatewayRefused, dimension: SwitchyardMetrics.Label.reason, factory: factory)
    }

    /// Counts one refusal.
    func count(_ reason: String) {
        counters.increment(reason)
    }
}
