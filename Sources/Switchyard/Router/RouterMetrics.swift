import Metrics
import Synchronization

/// The router's metrics: the fixed ones created once, the labelled ones created on first use
/// and cached (their label values are bounded: see ``SwitchyardMetrics/channelLabel(for:in:)``).
final class RouterMetrics: Sendable {
    typealias Name = SwitchyardMetrics.Name
    typealias Label = SwitchyardMetrics.Label

    /// The series of one `channel` label value.
    struct ChannelSeries: Sendable {
        let publishes: Counter
        let redisPublishes: Counter
        let latency: Timer
        let redisLatency: Timer
        let size: Recorder
        let redisErrors: Counter
    }

    /// The series of one consumer group.
    struct GroupSeries: Sendable {
        let deliveries: Counter
        let latency: Timer
    }

    /// The gauges of one `(channel, group)` pair.
    struct LagSeries: Sendable {
        let entries: Gauge
        let seconds: Gauge
        let pending: Gauge
    }

    let factory: any MetricsFactory
    let contracts: ContractRegistry
    let dedupDropped: Counter
    let rateLimited: Counter
    let acked: Counter
    let retries: Counter
    let deadLettered: Counter
    let reclaimed: Counter
    let reclaimDeleted: Counter
    private let channels = Mutex<[String: ChannelSeries]>([:])
    private let errors = Mutex<[ErrorKey: Counter]>([:])
    private let refusedEvents = Mutex<[ErrorKey: Counter]>([:])
    private let groups = Mutex<[String: GroupSeries]>([:])
    private let lags = Mutex<[LagKey: LagSeries]>([:])
    private let statistics = Mutex<[String: PublishStatistics]>([:])

    private struct ErrorKey: Hashable {
        let channel: String
        let reason: String
    }

    private struct LagKey: Hashable {
        let channel: String
        let group: String
    }

    init(factory: any MetricsFactory, contracts: ContractRegistry) {
        self.factory = factory
        self.contracts = contracts
        dedupDropped = Counter(label: Name.dedupDropped, factory: factory)
        rateLimited = Counter(label: Name.rateLimited, factory: factory)
        acked = Counter(label: Name.acked, factory: factory)
        retries = Counter(label: Name.retries, factory: factory)
        deadLettered = Counter(label: Name.deadLetters, factory: factory)
        reclaimed = Counter(label: Name.reclaimed, factory: factory)
        reclaimDeleted = Counter(label: Name.reclaimDeleted, factory: factory)
    }

    /// The `channel` label of a channel.
    func label(_ channel: ChannelName) -> String {
        SwitchyardMetrics.channelLabel(for: channel, in: contracts)
    }

    func series(_ channel: ChannelName) -> ChannelSeries {
        let label = label(channel)
        return channels.withLock { cache in
            if let series = cache[label] { return series }
            let dimensions = [(Label.channel, label)]
            let series = ChannelSeries(
                publishes: Counter(label: Name.publishes, dimensions: dimensions, factory: factory),
                redisPublishes: Counter(label: Name.redisPublishes, dimensions: dimensions, factory: factory),
                latency: Timer(label: Name.publishLatency, dimensions: dimensions, preferredDisplayUnit: .seconds, factory: factory),
                redisLatency: Timer(label: Name.redisPublishLatency, dimensions: dimensions, preferredDisplayUnit: .seconds, factory: factory),
                size: Recorder(label: Name.messageSize, dimensions: dimensions, aggregate: true, factory: factory),
                redisErrors: Counter(label: Name.redisPublishErrors, dimensions: dimensions, factory: factory))
            cache[label] = series
            return series
        }
    }

    /// Counts stored events of one channel and their sizes.
    func stored(_ channel: ChannelName, sizes: [Int]) {
        let series = series(channel)
        series.publishes.increment(by: Int64(sizes.count))
        series.redisPublishes.increment(by: Int64(sizes.count))
        for size in sizes { series.size.record(size) }
        let label = label(channel)
        statistics.withLock { $0[label, default: PublishStatistics()].stored += sizes.count }
    }

    /// What has been counted per `channel` label since the router started.
    func publishStatistics() -> [String: PublishStatistics] {
        statistics.withLock { $0 }
    }

    /// Records how long a publish call took, for each channel it touched.
    func latency(_ duration: Duration, channels: some Sequence<ChannelName>) {
        var seen: Set<String> = []
        for channel in channels where seen.insert(label(channel)).inserted {
            let series = series(channel)
            series.latency.recordNanoseconds(duration.nanoseconds)
            series.redisLatency.recordNanoseconds(duration.nanoseconds)
        }
        let seconds = Double(duration.nanoseconds) / 1e9
        statistics.withLock { cache in
            for label in seen { cache[label, default: PublishStatistics()].recordLatency(seconds) }
        }
    }

    /// Counts refused publishes under the error's code.
    func refused(_ channel: ChannelName, _ error: SwitchyardError, count: Int = 1) {
        let label = label(channel)
        let key = ErrorKey(channel: label, reason: error.code.rawValue)
        let counter = errors.withLock { cache in
            if let counter = cache[key] { return counter }
            let counter = Counter(
                label: Name.publishErrors, dimensions: [(Label.channel, label), (Label.reason, key.reason)], factory: factory)
            cache[key] = counter
            return counter
        }
        counter.increment(by: Int64(count))
        series(channel).redisErrors.increment(by: Int64(count))
        statistics.withLock { $0[label, default: PublishStatistics()].refused += count }
        if error.code == .rateLimited { rateLimited.increment(by: Int64(count)) }
    }

    /// Counts a stored event a consumer or the gateway refused, under the error's code.
    func refusedEvent(_ channel: ChannelName, _ error: SwitchyardError) {
        let key = ErrorKey(channel: label(channel), reason: error.code.rawValue)
        refusedEvents.withLock { cache in
            if let counter = cache[key] { return counter }
            let counter = Counter(
                label: Name.refusedEvents, dimensions: [(Label.channel, key.channel), (Label.reason, key.reason)], factory: factory)
            cache[key] = counter
            return counter
        }.increment()
    }

    /// Counts one delivery to a group and how old its event was.
    func delivered(group: String, age: Duration) {
        let series = groups.withLock { cache in
            if let series = cache[group] { return series }
            let dimensions = [(Label.group, group)]
            let series = GroupSeries(
                deliveries: Counter(label: Name.deliveries, dimensions: dimensions, factory: factory),
                latency: Timer(label: Name.deliveryLatency, dimensions: dimensions, preferredDisplayUnit: .seconds, factory: factory))
            cache[group] = series
            return series
        }
        series.deliveries.increment()
        series.latency.recordNanoseconds(max(0, age.nanoseconds))
    }

    /// Sets the lag gauges of one `(channel label, group)` pair.
    func lag(channel: String, group: String, entries: Int, seconds: Double, pending: Int) {
        let key = LagKey(channel: channel, group: group)
        let series = lags.withLock { cache in
            if let series = cache[key] { return series }
            let dimensions = [(Label.channel, channel), (Label.group, group)]
            let series = LagSeries(
                entries: Gauge(label: Name.consumerLagEntries, dimensions: dimensions, factory: factory),
                seconds: Gauge(label: Name.consumerLagSeconds, dimensions: dimensions, factory: factory),
                pending: Gauge(label: Name.pending, dimensions: dimensions, factory: factory))
            cache[key] = series
            return series
        }
        series.entries.record(entries)
        series.seconds.record(seconds)
        series.pending.record(pending)
    }
}

extension Duration {
    /// The duration in whole nanoseconds.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
