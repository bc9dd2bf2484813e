import Metrics

/// Where a gateway sends the events it is given: the ``Router`` itself, or a path in front of it
/// such as PostgreSQL's strict mode, which commits them to an outbox and answers once its relay
/// has published them through the router.
///
/// The gateway and its WebSocket sessions publish through this interface only, so that they need
/// not know which path is configured.
public protocol Publisher: Sendable {
    /// Publishes one event.
    /// - Returns: Where the event is; for a duplicate, the first publish's receipt marked as such.
    func publish(_ request: PublishRequest) async throws -> PublishReceipt

    /// Publishes events in order, every one checked before any is stored; a refusal names the
    /// request's `index` in its details and stores nothing.
    /// - Returns: One receipt per request, in order.
    func publish(_ batch: [PublishRequest]) async throws -> [PublishReceipt]

    /// Whether ``publish(_:state:)`` can set a state key with its event.
    var setsStateKeys: Bool { get }

    /// Publishes one event and, in the same step, sets a state key when the event is stored.
    func publish(_ request: PublishRequest, state: StateWrite) async throws -> PublishReceipt

    /// Whether this path records its own refusals in the audit trail (the router does).
    var auditsRefusals: Bool { get }

    /// `nil` when the path takes publishes now, else the refusal `GET /readyz` answers with.
    func readiness() async -> SwitchyardError?

    /// Records the path's own gauges for `/metrics`; called on the metrics timer.
    func refreshGauges(_ factory: any MetricsFactory) async
}

extension Router: Publisher {
    /// Publishes one event, as ``publish(to:payload:metadata:eventID:source:state:)`` does.
    public func publish(_ request: PublishRequest) async throws(SwitchyardError) -> PublishReceipt {
        // Only the batch path carries the bridge's flag; the gateway never sets it.
        if request.payloadAlreadyLive { return try await publish([request])[0] }
        return try await publish(to: request.channel, payload: request.payload, metadata: request.metadata, eventID: request.eventID, source: request.source)
    }

    /// The router sets state keys with events.
    public var setsStateKeys: Bool { true }

    /// Publishes one event and sets a state key with it, as ``publish(to:payload:metadata:eventID:source:state:)`` does.
    public func publish(_ request: PublishRequest, state: StateWrite) async throws(SwitchyardError) -> PublishReceipt {
        try await publish(
            to: request.channel, payload: request.payload, metadata: request.metadata, eventID: request.eventID, source: request.source,
            state: state)
    }

    /// The router audits its own refusals.
    public var auditsRefusals: Bool { true }

    /// The router is ready when its engine is; that is asked of the engine (``Engine/health()``).
    public func readiness() async -> SwitchyardError? { nil }

    /// The router's gauges are refreshed with ``refreshGroupMetrics()``.
    public func refreshGauges(_ factory: any MetricsFactory) async {}
}
