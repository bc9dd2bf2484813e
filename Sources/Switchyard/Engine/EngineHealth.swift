/// What an engine reports about itself, for health checks, readiness and the gauges of `/metrics`.
///
/// Callers ask the engine instead of knowing which engine it is.
public struct EngineHealth: Sendable, Hashable {
    /// The engine's name, as `GET /readyz` and the heartbeat give it: `embedded` or `redis`.
    public var engine: String
    /// Whether the engine answers now (the Redis engine: a `PING` within 2 seconds).
    public var reachable: Bool
    /// Whether publishes are kept in a local spool while the engine is unreachable.
    public var spoolConfigured: Bool
    /// Events waiting in the local spool.
    public var spoolDepth: Int

    /// Creates a report.
    public init(engine: String, reachable: Bool, spoolConfigured: Bool = false, spoolDepth: Int = 0) {
        self.engine = engine
        self.reachable = reachable
        self.spoolConfigured = spoolConfigured
        self.spoolDepth = spoolDepth
    }

    /// The heartbeat's signals about the engine.
    public var signals: HealthSignals {
        HealthSignals(engineReachable: reachable, spoolConfigured: spoolConfigured, spoolDepth: spoolDepth)
    }
}

extension StreamPosition {
    /// The position in the receipt of a publish an engine keeps in a local spool until it can
    /// store it: the event has no place in its stream yet (``PublishReceipt/Status/spooled``).
    public static let spooled = StreamPosition("spooled")
}
