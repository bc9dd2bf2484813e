import Metrics
import Switchyard
import Synchronization

/// Counts the requests the gateway refuses before authentication, by reason
/// (``Switchyard/SwitchyardMetrics/Name/gatewayRefused``). Created once per gateway.
final class GatewayRefusals: Sendable {
    private let factory: any MetricsFactory
    private let counters = Mutex<[String: Metrics.Counter]>([:])

    init(factory: any MetricsFactory) {
        self.factory = factory
    }

    /// Counts one refusal.
    func count(_ reason: String) {
        let counter = counters.withLock { cache in
            if let counter = cache[reason] { return counter }
            let counter = Metrics.Counter(
                label: SwitchyardMetrics.Name.gatewayRefused, dimensions: [(SwitchyardMetrics.Label.reason, reason)], factory: factory)
            cache[reason] = counter
            return counter
        }
        counter.increment()
    }
}
