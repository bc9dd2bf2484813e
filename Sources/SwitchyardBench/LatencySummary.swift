/// Latency percentiles of a set of samples, in milliseconds (nearest rank).
public struct LatencySummary: Codable, Sendable, Equatable {
    /// How many samples there were.
    public var count: Int
    /// The median; `nil` without samples.
    public var p50: Double?
    /// The 99th percentile; `nil` without samples.
    public var p99: Double?
    /// The 99.9th percentile; `nil` without samples.
    public var p999: Double?
    /// The largest sample; `nil` without samples.
    public var max: Double?

    /// Summarizes samples given in seconds.
    public init(seconds samples: [Double]) {
        let sorted = samples.sorted()
        count = sorted.count
        func rank(_ p: Double) -> Double? {
            guard !sorted.isEmpty else { return nil }
            let index = Swift.max(0, Swift.min(sorted.count - 1, Int((p * Double(sorted.count)).rounded(.up)) - 1))
            return sorted[index] * 1000
        }
        p50 = rank(0.5)
        p99 = rank(0.99)
        p999 = rank(0.999)
        max = sorted.last.map { $0 * 1000 }
    }

    /// `p50 0.41 ms, p99 1.20 ms, p99.9 2.00 ms, max 3.10 ms`, or `no samples`.
    public var text: String {
        guard let p50, let p99, let p999, let max else { return "no samples" }
        func ms(_ value: Double) -> String { value < 10 ? String(format: "%.2f", value) : String(format: "%.1f", value) }
        return "p50 \(ms(p50)) ms, p99 \(ms(p99)) ms, p99.9 \(ms(p999)) ms, max \(ms(max)) ms"
    }
}
