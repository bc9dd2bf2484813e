/// A service's health as its heartbeat reports it: `healthy`, `degraded` or `unhealthy`.
public struct HealthStatus: Sendable, Hashable, CustomStringConvertible {
    /// The wire value.
    public let rawValue: String
    /// Everything works.
    public static let healthy = HealthStatus(rawValue: "healthy")
    /// It works with reduced guarantees (publishes going to the local spool, say).
    public static let degraded = HealthStatus(rawValue: "degraded")
    /// It cannot do its work (its engine is unreachable and nothing holds publishes).
    public static let unhealthy = HealthStatus(rawValue: "unhealthy")

    /// The wire value.
    public var description: String { rawValue }
}

/// What a heartbeat's status is derived from, read fresh for every heartbeat.
public struct HealthSignals: Sendable, Hashable {
    /// Whether the engine answers (always `true` for the embedded engine).
    public var engineReachable: Bool
    /// Whether publishes are kept in a local spool while the engine is unreachable.
    public var spoolConfigured: Bool
    /// Events waiting in the local spool.
    public var spoolDepth: Int
    /// Open client connections (HTTP and WebSocket sessions) the process serves.
    public var activeConnections: Int

    /// Creates the signals.
    public init(engineReachable: Bool, spoolConfigured: Bool = false, spoolDepth: Int = 0, activeConnections: Int = 0) {
        self.engineReachable = engineReachable
        self.spoolConfigured = spoolConfigured
        self.spoolDepth = spoolDepth
        self.activeConnections = activeConnections
    }

    /// `unhealthy` when the engine is unreachable and no spool holds publishes; `degraded` when it
    /// is unreachable with a spool, or the spool still holds events; else `healthy`.
    public var status: HealthStatus {
        if !engineReachable { return spoolConfigured ? .degraded : .unhealthy }
        return spoolDepth > 0 ? .degraded : .healthy
    }
}
