/// What the router has counted for one `channel` label since it started: events stored, publishes
/// refused, and a histogram of publish latencies. The alert rules read these (two snapshots give
/// the counts of the time between them) instead of scraping the Prometheus text.
public struct PublishStatistics: Sendable, Hashable {
    /// Upper bounds of the latency buckets, in seconds; one more bucket counts everything above the last.
    public static let latencyBounds: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    /// Events stored (duplicates excluded).
    public var stored: Int
    /// Publishes refused, for any reason.
    public var refused: Int
    /// Publish calls per latency bucket: `latencyCounts[i]` counts latencies up to
    /// `latencyBounds[i]` (and above the bound before it); the last counts the rest.
    public var latencyCounts: [Int]

    /// Statistics with nothing counted.
    public init() {
        stored = 0
        refused = 0
        latencyCounts = Array(repeating: 0, count: Self.latencyBounds.count + 1)
    }

    /// Publish calls whose latency was recorded.
    public var latencySamples: Int { latencyCounts.reduce(0, +) }

    /// Counts one publish call's latency.
    /// - Parameter seconds: The time from the call to its receipt.
    public mutating func recordLatency(_ seconds: Double) {
        let index = Self.latencyBounds.firstIndex { seconds <= $0 } ?? Self.latencyBounds.count
        latencyCounts[index] += 1
    }

    /// What was counted after `earlier` (an older snapshot of the same series) up to this one.
    public func since(_ earlier: PublishStatistics) -> PublishStatistics {
        var delta = PublishStatistics()
        delta.stored = max(0, stored - earlier.stored)
        delta.refused = max(0, refused - earlier.refused)
        delta.latencyCounts = zip(latencyCounts, earlier.latencyCounts).map { max(0, $0 - $1) }
        return delta
    }

    /// The `quantile` (0–1) of the recorded latencies in seconds, interpolated linearly inside its
    /// bucket as Prometheus's `histogram_quantile` does; `nil` without samples. A quantile in the
    /// last, unbounded bucket reads as the largest bound.
    public func latencyQuantile(_ quantile: Double) -> Double? {
        let total = latencySamples
        guard total > 0 else { return nil }
        let rank = min(max(quantile, 0), 1) * Double(total)
        var below = 0
        for (index, count) in latencyCounts.enumerated() where count > 0 {
            if Double(below + count) >= rank {
                guard index < Self.latencyBounds.count else { return Self.latencyBounds.last! }
                let lower = index == 0 ? 0 : Self.latencyBounds[index - 1]
                let upper = Self.latencyBounds[index]
                return lower + (upper - lower) * max(0, rank - Double(below)) / Double(count)
            }
            below += count
        }
        return Self.latencyBounds.last!
    }
}
