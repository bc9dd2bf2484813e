import JSONSchema

/// The alert rules as a pure state machine: each ``evaluate(_:)`` takes the inputs of one moment
/// and returns the alerts that changed state, each once: fired when its condition starts to
/// hold, resolved when it stops. An alert that keeps firing is not returned again.
///
/// Rules over counts (error rate, latency, hard-cap trims) compare the inputs with the newest
/// earlier inputs at least the rule's window old (or the oldest kept, in the first window: the
/// `baseline` given to ``init(configuration:baseline:)`` when there is one).
public struct AlertRules: Sendable {
    typealias Name = AlertConfiguration.RuleName

    /// The rules' settings.
    public let configuration: AlertConfiguration
    /// Inputs kept for the windows; `trims` is `nil` for a baseline read without the streams.
    private var history: [(time: Int64, publishes: [String: PublishStatistics], trims: [ChannelName: Int]?)] = []
    private var active: [Key: Alert] = [:]
    private var lastTrims: [ChannelName: Int] = [:]
    private var issued = 0

    private struct Key: Hashable {
        let type: String
        let subject: String
    }

    /// A condition found to hold.
    private struct Finding {
        var type: String
        var subject: String
        var message: String
        var details: JSONObject
    }

    /// Rules with these settings, and nothing seen yet.
    /// - Parameters:
    ///   - configuration: The rules' settings.
    ///   - baseline: The counts the first window starts from (the router's, read when the rules are
    ///     made); without it the first window starts at the first ``evaluate(_:)``, and what was
    ///     counted before that is never judged. Its streams may be `nil`.
    public init(configuration: AlertConfiguration = AlertConfiguration(), baseline: AlertInputs? = nil) {
        self.configuration = configuration
        if let baseline {
            history.append((baseline.time.unixMilliseconds, baseline.publishes, baseline.streams?.trimmedUndelivered))
        }
    }

    /// The alerts firing now, oldest first.
    public var firing: [Alert] {
        active.values.sorted { ($0.firedAt.unixMilliseconds, $0.id) < ($1.firedAt.unixMilliseconds, $1.id) }
    }

    /// Runs every enabled rule on `inputs`.
    /// - Returns: The alerts that fired (``Alert/resolvedAt`` `nil`) or resolved since the last call.
    public mutating func evaluate(_ inputs: AlertInputs) -> [Alert] {
        let now = inputs.time.unixMilliseconds
        if let streams = inputs.streams { lastTrims = streams.trimmedUndelivered }
        history.append((now, inputs.publishes, lastTrims))
        var findings: [Finding] = []
        var judged: Set<String> = []
        for name in Name.all {
            guard let rule = configuration[rule: name], rule.enabled else { continue }
            if inputs.streams == nil && (name == Name.queueDepth || name == Name.retentionHardCap) { continue }
            judged.insert(name)
            findings += find(name, rule, inputs)
        }
        prune(now: now)

        var changed: [Alert] = []
        var holding: Set<Key> = []
        for finding in findings {
            let key = Key(type: finding.type, subject: finding.subject)
            holding.insert(key)
            guard active[key] == nil else {
                active[key]?.details = finding.details
                continue
            }
            issued += 1
            let alert = Alert(
                id: "alert_\(now)n\(issued)", type: finding.type, subject: finding.subject,
                severity: configuration[rule: finding.type]?.severity ?? .high, message: finding.message, details: finding.details,
                firedAt: inputs.time)
            active[key] = alert
            changed.append(alert)
        }
        for (key, alert) in active.sorted(by: { $0.value.id < $1.value.id }) where !holding.contains(key) {
            // A rule that was not judged this time (disabled, or its inputs missing) keeps its alerts
            // unless it is disabled: then they resolve.
            if !judged.contains(key.type), configuration[rule: key.type]?.enabled == true { continue }
            var resolved = alert
            resolved.resolvedAt = inputs.time
            active[key] = nil
            changed.append(resolved)
        }
        return changed
    }

    private func find(_ name: String, _ rule: AlertConfiguration.Rule, _ inputs: AlertInputs) -> [Finding] {
        let windowSeconds = Double(rule.window.components.seconds) + Double(rule.window.components.attoseconds) / 1e18
        func number(_ value: Double) -> JSONValue { .double((value * 1000).rounded() / 1000) }
        switch name {
        case Name.errorRate:
            let before = baseline(window: rule.window, at: inputs.time).publishes
            return inputs.publishes.sorted { $0.key < $1.key }.compactMap { label, now in
                let delta = now.since(before[label] ?? PublishStatistics())
                let total = delta.stored + delta.refused
                guard total >= max(1, rule.minimumSamples) else { return nil }
                let rate = Double(delta.refused) / Double(total)
                guard rate > rule.threshold else { return nil }
                return Finding(
                    type: name, subject: label,
                    message: "\(Self.percent(rate)) of publishes to \(label) refused over the last \(Int(windowSeconds)) s (\(delta.refused) of \(total))",
                    details: ["channel": .string(label), "error_rate": number(rate), "refused": .int(Int64(delta.refused)),
                              "publishes": .int(Int64(total)), "threshold": number(rule.threshold), "window_seconds": number(windowSeconds)])
            }
        case Name.processingLatency:
            let before = baseline(window: rule.window, at: inputs.time).publishes
            return inputs.publishes.sorted { $0.key < $1.key }.compactMap { label, now in
                let delta = now.since(before[label] ?? PublishStatistics())
                guard delta.latencySamples >= max(1, rule.minimumSamples), let p95 = delta.latencyQuantile(0.95), p95 > rule.threshold else { return nil }
                return Finding(
                    type: name, subject: label,
                    message: "publishes to \(label) took \(Int((p95 * 1000).rounded())) ms at the 95th percentile over the last \(Int(windowSeconds)) s (threshold \(Int((rule.threshold * 1000).rounded())) ms)",
                    details: ["channel": .string(label), "p95_seconds": number(p95), "samples": .int(Int64(delta.latencySamples)),
                              "threshold": number(rule.threshold), "window_seconds": number(windowSeconds)])
            }
        case Name.queueDepth:
            return (inputs.streams?.groups ?? []).compactMap { depth in
                let deepest = max(depth.pending, depth.lag)
                guard Double(deepest) > rule.threshold else { return nil }
                return Finding(
                    type: name, subject: "\(depth.channel.rawValue) \(depth.group)",
                    message: "group \(depth.group) on \(depth.channel.rawValue) has \(depth.lag) entries not delivered and \(depth.pending) not acked (threshold \(Int(rule.threshold)))",
                    details: ["channel": .string(depth.channel.rawValue), "group": .string(depth.group), "pending": .int(Int64(depth.pending)),
                              "lag": .int(Int64(depth.lag)), "lag_seconds": number(depth.lagSeconds), "threshold": number(rule.threshold)])
            }
        case Name.serviceUnresponsive:
            return inputs.lastHeartbeats.sorted { $0.key < $1.key }.compactMap { service, seen in
                let silent = Double(inputs.time.unixMilliseconds - seen.unixMilliseconds) / 1000
                guard silent > rule.threshold else { return nil }
                return Finding(
                    type: name, subject: service,
                    message: "\(service) has sent no heartbeat for more than \(Int(rule.threshold)) s (last at \(seen))",
                    details: ["service": .string(service), "last_seen": .string(seen.description), "threshold": number(rule.threshold)])
            }
        case Name.spoolInUse:
            guard Double(inputs.spoolDepth) > rule.threshold else { return [] }
            return [Finding(
                type: name, subject: "spool",
                message: "\(inputs.spoolDepth) events wait in the local spool: the engine does not take publishes",
                details: ["spool_depth": .int(Int64(inputs.spoolDepth)), "threshold": number(rule.threshold)])]
        case Name.retentionHardCap:
            let before = baseline(window: rule.window, at: inputs.time).trims
            return lastTrims.sorted { $0.key < $1.key }.compactMap { channel, count in
                let trimmed = count - (before[channel] ?? 0)
                guard Double(trimmed) > rule.threshold else { return nil }
                return Finding(
                    type: name, subject: channel.rawValue,
                    message: "stream:{\(channel.rawValue)} trimmed \(trimmed) undelivered entries at the hard cap in the last \(Int(windowSeconds)) s",
                    details: ["channel": .string(channel.rawValue), "trimmed": .int(Int64(trimmed)), "window_seconds": number(windowSeconds)])
            }
        default:
            return []
        }
    }

    /// The newest inputs at least `window` older than `time`, else the oldest kept; for the trims,
    /// the same among the inputs that had them.
    private func baseline(window: Duration, at time: Timestamp) -> (publishes: [String: PublishStatistics], trims: [ChannelName: Int]) {
        let limit = time.unixMilliseconds - HealthTracker.milliseconds(window)
        let entry = history.last { $0.time <= limit } ?? history.first!
        let trims = history.last { $0.time <= limit && $0.trims != nil } ?? history.first { $0.trims != nil }
        return (entry.publishes, trims?.trims ?? [:])
    }

    /// Keeps the inputs the longest window needs: everything inside it and the newest one before it.
    private mutating func prune(now: Int64) {
        let longest = Name.all.compactMap { configuration[rule: $0] }.map { HealthTracker.milliseconds($0.window) }.max() ?? 0
        let limit = now - longest
        if let keep = history.lastIndex(where: { $0.time <= limit }), keep > 0 { history.removeFirst(keep) }
    }

    static func percent(_ rate: Double) -> String {
        let tenths = (rate * 1000).rounded() / 10
        return tenths == tenths.rounded() ? "\(Int(tenths))%" : "\(tenths)%"
    }
}
