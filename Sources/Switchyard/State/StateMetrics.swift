import Metrics
import Synchronization

extension SwitchyardMetrics.Name {
    /// Counter `{family, result}`: state reads; `result` is `hit` or `miss` (missing or expired),
    /// `family` the state-key entry's key or pattern (`cache:trades:*`), or `other`.
    public static let stateReads = "switchyard_state_reads_total"
    /// Counter `{family}`: state values written (by a set, or by a publish whose event was stored).
    public static let stateWrites = "switchyard_state_writes_total"
}

extension SwitchyardMetrics.Label {
    /// A state key's family: the key or pattern of the state-key entry that covers it.
    public static let family = "family"
}

/// The state keys' counters, one per (family, result), created on first use and cached; the
/// families are the entries of the state-key table, so the label values are bounded.
final class StateMetrics: Sendable {
    private struct Key: Hashable {
        let name: String
        let family: String
        let result: String?
    }

    private let factory: any MetricsFactory
    private let counters = Mutex<[Key: Counter]>([:])

    init(factory: any MetricsFactory) {
        self.factory = factory
    }

    func read(_ family: String, hit: Bool) {
        counter(Key(name: SwitchyardMetrics.Name.stateReads, family: family, result: hit ? "hit" : "miss")).increment()
    }

    func wrote(_ family: String) {
        counter(Key(name: SwitchyardMetrics.Name.stateWrites, family: family, result: nil)).increment()
    }

    private func counter(_ key: Key) -> Counter {
        counters.withLock { cache in
            if let counter = cache[key] { return counter }
            var dimensions = [(SwitchyardMetrics.Label.family, key.family)]
            if let result = key.result { dimensions.append((SwitchyardMetrics.Label.result, result)) }
            let counter = Counter(label: key.name, dimensions: dimensions, factory: factory)
            cache[key] = counter
            return counter
        }
    }
}
