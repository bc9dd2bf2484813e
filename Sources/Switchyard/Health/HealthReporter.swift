import Foundation
import JSONSchema
import Logging
import ServiceLifecycle
import Synchronization

/// Publishes the process's heartbeat every ``Configuration/interval`` (30 s by default) to the
/// system health channel, in REC.IO's `system:health_check` shape: `service`, `status`
/// (`healthy`, `degraded` or `unhealthy`, from ``HealthSignals/status``), `uptime` (s),
/// `memory_usage` (resident MiB), `cpu_usage` (percent of the host since the last heartbeat),
/// `active_connections`, `timestamp`, and `check_id`, `host`, `version`.
///
/// A `Service`: run it in the process's `ServiceGroup`. A heartbeat that cannot be published is
/// logged and the next one comes on time; the first is published as soon as ``run()`` starts.
///
/// ```swift
/// let reporter = HealthReporter(router: router, configuration: .init(service: "trade_executor"), logger: logger) {
///     HealthSignals(engineReachable: true)
/// }
/// ```
public final class HealthReporter: Service {
    /// Who the heartbeat speaks for, where it goes and how often.
    public struct Configuration: Sendable {
        /// The REC.IO health channel; its contract is the heartbeat's schema.
        public static let defaultChannel = try! ChannelName("system:health_check")

        /// The service name: lower snake or kebab case, at most 64 characters (`trade_executor`).
        public var service: String
        /// Where heartbeats go; default ``defaultChannel``.
        public var channel: ChannelName
        /// Time between heartbeats; default 30 s.
        public var interval: Duration
        /// The service's version, at most 32 characters; `nil` leaves it out.
        public var version: String?

        /// Creates a configuration; every parameter but `service` has the default documented on its property.
        public init(service: String, channel: ChannelName = defaultChannel, interval: Duration = .seconds(30), version: String? = nil) {
            self.service = service
            self.channel = channel
            self.interval = interval
            self.version = version
        }
    }

    /// How the reporter runs.
    public let configuration: Configuration
    let router: Router
    let signals: @Sendable () async -> HealthSignals
    let logger: Logger
    private let cpu = Mutex(CPUMeter())
    private let checks = Atomic<Int>(0)

    /// Creates a reporter; starts nothing.
    /// - Parameters:
    ///   - router: Publishes the heartbeats (they are checked against the channel's contract).
    ///   - configuration: Service name, channel, interval.
    ///   - logger: Where failed heartbeats are reported.
    ///   - signals: Reads the signals a heartbeat's status comes from; called once per heartbeat.
    public init(router: Router, configuration: Configuration, logger: Logger, signals: @escaping @Sendable () async -> HealthSignals) {
        self.router = router
        self.configuration = configuration
        self.logger = logger
        self.signals = signals
    }

    /// Publishes a heartbeat now, then one every interval, until cancelled or a graceful shutdown.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do { try await self.beat() } catch {
                    self.logger.warning(
                        "heartbeat not published", metadata: ["channel": "\(self.configuration.channel)", "error": "\(error)"])
                }
                do { try await Task.sleep(for: self.configuration.interval) } catch { return }
            }
        }
    }

    /// Publishes one heartbeat.
    /// - Returns: The receipt.
    /// - Throws: ``SwitchyardError`` when the publish is refused.
    @discardableResult
    public func beat() async throws(SwitchyardError) -> PublishReceipt {
        try await router.publish(to: configuration.channel, payload: await heartbeat(), source: configuration.service)
    }

    /// The heartbeat payload as it would be published now.
    public func heartbeat() async -> JSONValue {
        let signals = await signals()
        let check = checks.add(1, ordering: .relaxed).newValue
        var payload: JSONObject = [
            "service": .string(configuration.service),
            "status": .string(signals.status.rawValue),
            "uptime": .int(Int64(ProcessStats.uptimeSeconds())),
            "memory_usage": .double(Self.rounded(ProcessStats.residentMemoryMiB() ?? 0)),
            "cpu_usage": .double(Self.rounded(cpu.withLock { $0.percent() } ?? 0)),
            "active_connections": .int(Int64(max(0, signals.activeConnections))),
            "check_id": .string("health_\(check)"),
            "timestamp": .string(router.now.description),
        ]
        if let version = configuration.version, version.count <= 32 { payload["version"] = .string(version) }
        if let host = Self.hostName { payload["host"] = .string(host) }
        return .object(payload)
    }

    /// The host's name when it fits the contract's `host` pattern.
    static let hostName: String? = {
        let name = ProcessInfo.processInfo.hostName
        func alphanumeric(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
        }
        let bytes = Array(name.utf8)
        guard let first = bytes.first, bytes.count <= 253, alphanumeric(first),
            bytes.allSatisfy({ alphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") })
        else { return nil }
        return name
    }()

    static func rounded(_ value: Double) -> Double { (value * 100).rounded() / 100 }
}
