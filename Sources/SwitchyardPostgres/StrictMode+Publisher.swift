import Metrics
import Switchyard

extension StrictMode: Publisher {
    /// Publishes one event through the outbox, as ``publish(_:)-([PublishRequest])`` does.
    public func publish(_ request: PublishRequest) async throws -> PublishReceipt {
        try await publish([request])[0]
    }

    /// The outbox cannot set a state key with its row: strict mode refuses state writes.
    public var setsStateKeys: Bool { false }

    /// Refused: the outbox cannot set a state key with its row.
    public func publish(_ request: PublishRequest, state: StateWrite) async throws -> PublishReceipt {
        throw SwitchyardError.validation(missing: [], invalid: [("state", "is not available in strict mode: the outbox cannot set a state key")])
    }

    /// The outbox's contract check is audited by the caller, who knows who published.
    public var auditsRefusals: Bool { false }

    /// Ready when PostgreSQL answers `SELECT 1` within 2 seconds and the schema is migrated.
    public func readiness() async -> SwitchyardError? {
        guard await !isReady() else { return nil }
        return SwitchyardError(.engineUnavailable, "PostgreSQL does not answer, or is not migrated yet", details: ["engine": "postgres"])
    }

    /// `switchyard_postgres_up` and `switchyard_relay_lag_seconds`.
    public func refreshGauges(_ factory: any MetricsFactory) async {
        let status = await status()
        Gauge(label: SwitchyardMetrics.Name.postgresUp, factory: factory).record(status.reachable ? 1 : 0)
        if let lag = status.relayLagSeconds { Gauge(label: SwitchyardMetrics.Name.relayLag, factory: factory).record(lag) }
    }
}
