import Logging
import Switchyard

/// What `switchyard bench --sweep` found: one run per offered rate, and the highest rate that held.
public struct SweepReport: Encodable, Sendable {
    /// One step of the sweep.
    public struct Step: Encodable, Sendable {
        /// Events per second offered, every publisher together.
        public var offered: Int
        /// The run's figures.
        public var report: BenchReport
        /// Why the step did not hold; `nil` when it held.
        public var failure: String?
    }

    /// The runs, lowest rate first; the last one failed unless the sweep reached its ceiling.
    public var steps: [Step]
    /// The group p99 a step must stay under, in milliseconds.
    public var limitMilliseconds: Double
    /// The highest offered rate that held (events/s, every publisher together); `nil` when the first step failed.
    public var held: Int? { steps.last { $0.failure == nil }?.offered }

    /// The sweep as plain text: one line per step, then the rate that held.
    public var text: String {
        var lines = ["switchyard bench --sweep: the offered rate rises until a group's p99 passes \(Self.milliseconds(limitMilliseconds)) ms or an event is lost"]
        for step in steps {
            let report = step.report
            let groupP99 = report.groups.compactMap(\.latency.p99).max()
            var line = "\(step.offered)/s offered: acked \(Int(report.publish.throughput))/s"
            if let groupP99 { line += ", group p99 \(Self.milliseconds(groupP99)) ms" }
            if let p99 = report.webSocket?.latency.p99 { line += ", WebSocket p99 \(Self.milliseconds(p99)) ms" }
            line += ", lost \(report.lost)"
            for process in report.processes {
                if let cost = process.cpuMicrosecondsPerEvent {
                    line += "; \(process.shortRole) \(Self.microseconds(cost)) µs CPU per event"
                }
            }
            if report.processes.count > 1, let total = report.totalCPUMicrosecondsPerEvent {
                line += "; together \(Self.microseconds(total)) µs"
            }
            line += step.failure.map { " — did not hold: \($0)" } ?? " — held"
            lines.append(line)
        }
        lines.append(held.map { "held: \($0) events/s" } ?? "held: none (the first step failed)")
        return lines.joined(separator: "\n")
    }

    private static func milliseconds(_ value: Double) -> String { String(format: value < 10 ? "%.2f" : "%.1f", value) }
    private static func microseconds(_ value: Double) -> String { String(format: "%.1f", value) }

    enum CodingKeys: String, CodingKey { case steps, limitMilliseconds = "limit_ms", held }

    /// Encodes the sweep, with ``held`` included.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(steps, forKey: .steps)
        try container.encode(limitMilliseconds, forKey: .limitMilliseconds)
        try container.encodeIfPresent(held, forKey: .held)
    }
}

extension LoadGenerator {
    /// Runs `configuration` at rising rates: its rate per publisher first, then `step` more per
    /// publisher each time, until a step does not hold or the rate per publisher passes `ceiling`.
    ///
    /// A step holds when every consumer group's p99 (handler time minus scheduled send time) is
    /// under `limit`, nothing acknowledged was lost, and the publishers kept 95 % of the offered
    /// rate. Each step is a whole run with groups and clients of its own.
    /// - Parameters:
    ///   - configuration: The first step; its ``BenchConfiguration/ratePerPublisher`` is the first rate.
    ///   - step: Events per second added per publisher at each step.
    ///   - ceiling: The highest rate per publisher to try.
    ///   - limit: The group p99 a step must stay under (the seeds' "stream lag < 100 ms under load").
    ///   - contracts: The contracts, as ``run(_:contracts:logger:progress:)`` takes them.
    ///   - logger: The engine's, router's and gateway's logger.
    ///   - progress: Told what is happening, one line at a time.
    /// - Returns: Every step's figures and the highest rate that held.
    public static func sweep(
        _ configuration: BenchConfiguration, step: Int, ceiling: Int, limit: Duration = .milliseconds(100),
        contracts: ContractRegistry, logger: Logger, progress: @escaping @Sendable (String) -> Void = { _ in }
    ) async throws -> SweepReport {
        let limitMilliseconds = Double(limit.components.seconds) * 1000 + Double(limit.components.attoseconds) / 1e15
        var sweep = SweepReport(steps: [], limitMilliseconds: limitMilliseconds)
        var current = configuration
        while current.ratePerPublisher <= ceiling {
            let offered = current.ratePerPublisher * current.publishers
            progress("sweep: \(offered) events/s offered (\(current.publishers) × \(current.ratePerPublisher))")
            let report = try await run(current, contracts: contracts, logger: logger, progress: progress)
            let failure = Self.failure(of: report, offered: offered, limit: limitMilliseconds)
            sweep.steps.append(.init(offered: offered, report: report, failure: failure))
            if failure != nil || step <= 0 { break }
            current.ratePerPublisher += step
        }
        return sweep
    }

    /// Why a step did not hold, or `nil`.
    static func failure(of report: BenchReport, offered: Int, limit: Double) -> String? {
        if report.lost > 0 { return "\(report.lost) acknowledged events lost" }
        if let worst = report.groups.filter({ ($0.latency.p99 ?? 0) >= limit }).first {
            return String(format: "group %@ p99 %.1f ms", worst.group, worst.latency.p99 ?? 0)
        }
        if report.groups.contains(where: { $0.latency.count == 0 }) { return "a group received nothing in the measured window" }
        if report.publish.throughput < 0.95 * Double(offered) {
            return String(format: "the publishers kept %.0f of %d events/s", report.publish.throughput, offered)
        }
        return nil
    }
}
