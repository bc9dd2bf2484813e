import JSONSchema
import Logging
import ServiceLifecycle
import Synchronization

/// Runs the alert rules (``AlertRules``) every ``AlertConfiguration/interval`` (5 s by default)
/// on the router's own state, publishes each alert that fires or resolves to
/// ``AlertConfiguration/channel`` (`system:error_alert`) in REC.IO's schema, and keeps the list of
/// firing and recently resolved alerts (``alerts()``).
///
/// Its inputs: ``Router/publishStatistics()``, ``Router/streamsSnapshot()``, the
/// ``HealthTracker``'s services, and the spool depth from `signals`. A `Service`: run it in the
/// process's `ServiceGroup`, with the tracker.
///
/// An alert that cannot be published (the engine refuses it) is logged, kept in the list, and
/// published again at the next evaluation, so the transitions reach the channel in order.
public final class AlertMonitor: Service {
    /// The rules' settings.
    public let configuration: AlertConfiguration
    let router: Router
    let healthTracker: HealthTracker?
    let signals: @Sendable () async -> HealthSignals
    let logger: Logger
    private let state: Mutex<State>

    private struct State {
        var rules: AlertRules
        var resolved: [Alert] = []
        var unpublished: [Alert] = []
    }

    /// The most resolved alerts kept, however recent.
    static let resolvedLimit = 1000
    /// The most transitions kept for publishing while the engine refuses them.
    static let unpublishedLimit = 1000

    /// Creates a monitor; starts nothing.
    /// - Parameters:
    ///   - router: Whose state the rules read, and which publishes the alerts.
    ///   - healthTracker: The heartbeats the unresponsive rule reads; `nil` turns that rule off.
    ///   - configuration: Interval, channel, thresholds.
    ///   - logger: Where fired, resolved and unpublished alerts are logged.
    ///   - signals: Reads the spool depth; called once per evaluation.
    public init(
        router: Router, healthTracker: HealthTracker?, configuration: AlertConfiguration = AlertConfiguration(), logger: Logger,
        signals: @escaping @Sendable () async -> HealthSignals
    ) {
        self.router = router
        self.healthTracker = healthTracker
        self.configuration = configuration
        self.logger = logger
        self.signals = signals
        // The router's counts at creation start the first window: the first evaluation may come
        // late (it reads every stream first), and publishes before it must be judged too.
        let baseline = AlertInputs(time: router.now, publishes: router.publishStatistics(), streams: nil)
        self.state = Mutex(State(rules: AlertRules(configuration: configuration, baseline: baseline)))
    }

    /// Evaluates now, then every interval, until cancelled or a graceful shutdown.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await self.evaluate()
                do { try await Task.sleep(for: self.configuration.interval) } catch { return }
            }
        }
    }

    /// Reads the inputs, runs the rules once and publishes what changed. ``run()`` calls it every
    /// interval; call it yourself only where ``run()`` does not run, from one task at a time.
    /// - Returns: The alerts that fired or resolved in this evaluation.
    @discardableResult
    public func evaluate() async -> [Alert] {
        let inputs = await readInputs()
        let changed = state.withLock { state -> [Alert] in
            let changed = state.rules.evaluate(inputs)
            let limit = inputs.time.unixMilliseconds - HealthTracker.milliseconds(configuration.keepResolved)
            state.resolved = (changed.filter(\.isResolved).reversed() + state.resolved)
                .filter { ($0.resolvedAt?.unixMilliseconds ?? 0) >= limit }.prefix(Self.resolvedLimit).map { $0 }
            state.unpublished = Array((state.unpublished + changed).suffix(Self.unpublishedLimit))
            return changed
        }
        for alert in changed {
            let level: Logger.Level = alert.isResolved ? .info : .warning
            logger.log(level: level, "\(alert.isResolved ? "alert resolved" : "alert firing"): \(alert.message)",
                       metadata: ["alert_type": "\(alert.type)", "alert_id": "\(alert.id)", "subject": "\(alert.subject)"])
        }
        await publishPending()
        return changed
    }

    /// The alerts firing now (oldest first), then those resolved within
    /// ``AlertConfiguration/keepResolved`` (newest first).
    public func alerts() -> [Alert] {
        state.withLock { $0.rules.firing + $0.resolved }
    }

    private func publishPending() async {
        let pending = state.withLock { $0.unpublished }
        var published = 0
        for alert in pending {
            do {
                try await router.publish(to: configuration.channel, payload: alert.payload(service: configuration.service), source: configuration.service)
                published += 1
            } catch {
                logger.warning("alert not published; trying again at the next evaluation",
                               metadata: ["channel": "\(configuration.channel)", "alert_id": "\(alert.id)", "error": "\(error)"])
                break
            }
        }
        state.withLock { $0.unpublished.removeFirst(min(published, $0.unpublished.count)) }
    }

    private func readInputs() async -> AlertInputs {
        let streams: StreamsSnapshot?
        do { streams = try await router.streamsSnapshot() } catch {
            logger.debug("alert rules could not read the streams", metadata: ["error": "\(error)"])
            streams = nil
        }
        var heartbeats: [String: Timestamp] = [:]
        for service in healthTracker?.services() ?? [] { heartbeats[service.service] = service.lastSeen }
        let spool = configuration.spoolInUse.enabled ? await signals().spoolDepth : 0
        return AlertInputs(
            time: router.now, publishes: router.publishStatistics(), streams: streams, lastHeartbeats: heartbeats, spoolDepth: spool)
    }
}
