import JSONSchema
import Logging
import ServiceLifecycle
import Synchronization

/// Follows the heartbeats on the system health channel (a live subscription) and tells, per
/// service, what it last reported and whether it is still heard from: a service whose last
/// heartbeat arrived more than ``Configuration/unresponsiveAfter`` ago (30 s by default) is
/// reported `unresponsive`.
///
/// A `Service`: run it in the process's `ServiceGroup`. It knows the services whose heartbeats
/// arrived while it ran; a service seen once stays listed (as unresponsive) until the process ends.
public final class HealthTracker: Service {
    /// Which channel to follow and when a service counts as unresponsive.
    public struct Configuration: Sendable {
        /// The heartbeat channel; default ``HealthReporter/Configuration/defaultChannel``.
        public var channel: ChannelName
        /// Silence after which a service is unresponsive; default 30 s.
        public var unresponsiveAfter: Duration

        /// Creates a configuration; every parameter has the default documented on its property.
        public init(channel: ChannelName = HealthReporter.Configuration.defaultChannel, unresponsiveAfter: Duration = .seconds(30)) {
            self.channel = channel
            self.unresponsiveAfter = unresponsiveAfter
        }
    }

    /// One service as the tracker sees it.
    public struct ServiceHealth: Sendable {
        /// The heartbeat's `service`.
        public var service: String
        /// The status its last heartbeat reported: `healthy`, `degraded` or `unhealthy`.
        public var reportedStatus: String
        /// When its last heartbeat arrived, on the router's clock.
        public var lastSeen: Timestamp
        /// Whether that was more than ``Configuration/unresponsiveAfter`` ago.
        public var unresponsive: Bool
        /// The last heartbeat's payload.
        public var lastHeartbeat: JSONValue

        /// `unresponsive` when not heard from in time, else the reported status.
        public var status: String { unresponsive ? "unresponsive" : reportedStatus }
    }

    /// How the tracker runs.
    public let configuration: Configuration
    let router: Router
    let logger: Logger
    private let seen = Mutex<[String: (status: String, at: Timestamp, heartbeat: JSONValue)]>([:])

    /// Creates a tracker; starts nothing.
    /// - Parameters:
    ///   - router: Where the heartbeats are read.
    ///   - configuration: Channel and silence limit.
    ///   - logger: Where a failing subscription is reported.
    public init(router: Router, configuration: Configuration = Configuration(), logger: Logger) {
        self.router = router
        self.configuration = configuration
        self.logger = logger
    }

    /// Follows the heartbeats until cancelled or a graceful shutdown; a failed subscription is
    /// opened again after a second.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    for try await envelope in self.router.subscribe([try ChannelPattern(self.configuration.channel.rawValue)]) {
                        self.record(envelope.data)
                    }
                } catch {
                    if Task.isCancelled { return }
                    self.logger.warning("health subscription failed", metadata: ["channel": "\(self.configuration.channel)", "error": "\(error)"])
                }
                do { try await Task.sleep(for: .seconds(1)) } catch { return }
            }
        }
    }

    /// Notes a heartbeat payload as arrived now; payloads without a `service` are ignored.
    public func record(_ heartbeat: JSONValue) {
        guard let service = heartbeat["service"]?.stringValue else { return }
        let status = heartbeat["status"]?.stringValue ?? "unknown"
        let now = router.now
        seen.withLock { $0[service] = (status, now, heartbeat) }
    }

    /// Every service heard from, by name, with its status as of now.
    public func services() -> [ServiceHealth] {
        let now = router.now
        let limit = Self.milliseconds(configuration.unresponsiveAfter)
        return seen.withLock { $0 }.sorted { $0.key < $1.key }.map { service, last in
            ServiceHealth(
                service: service, reportedStatus: last.status, lastSeen: last.at,
                unresponsive: now.unixMilliseconds - last.at.unixMilliseconds > limit, lastHeartbeat: last.heartbeat)
        }
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
