import HTTPTypes
import Hummingbird
import JSONSchema
import Metrics
import NIOCore
import Prometheus
import RedisClient
import Switchyard
import SwitchyardRedis
import Synchronization

extension Gateway {
    /// `GET /metrics`: the registry in Prometheus text format, open to everyone. The consumer
    /// group gauges, `switchyard_redis_up`, `switchyard_spool_depth`, and in strict mode
    /// `switchyard_postgres_up` and `switchyard_relay_lag_seconds`, are read at scrape time.
    func metrics(_ registry: PrometheusCollectorRegistry) async -> Response {
        try? await router.refreshGroupMetrics()
        if let strictMode {
            let status = await strictMode.status()
            let factory = PrometheusMetricsFactory.switchyard(registry: registry)
            Gauge(label: SwitchyardMetrics.Name.postgresUp, factory: factory).record(status.reachable ? 1 : 0)
            if let lag = status.relayLagSeconds { Gauge(label: SwitchyardMetrics.Name.relayLag, factory: factory).record(lag) }
        }
        if router.engine is RedisEngine {
            let signals = await EngineProbe.signals(router)
            let factory = PrometheusMetricsFactory.switchyard(registry: registry)
            Gauge(label: SwitchyardMetrics.Name.redisUp, factory: factory).record(signals.engineReachable ? 1 : 0)
            Gauge(label: SwitchyardMetrics.Name.spoolDepth, dimensions: [(SwitchyardMetrics.Label.engine, "redis")], factory: factory)
                .record(signals.spoolDepth)
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
    }

    /// `GET /v1/health/services`: every service heard from on the health channel, with its last
    /// heartbeat and `unresponsive` when silent too long; needs a subscribe grant on the channel.
    func healthServices(_ tracker: HealthTracker, _ context: GatewayRequestContext) throws -> Response {
        try context.requirePrincipal().requireRead(tracker.configuration.channel)
        let services: [JSONValue] = tracker.services().map { service in
            [
                "service": .string(service.service), "status": .string(service.status),
                "reported_status": .string(service.reportedStatus), "unresponsive": .bool(service.unresponsive),
                "last_seen": .string(service.lastSeen.description), "last_heartbeat": service.lastHeartbeat,
            ]
        }
        return jsonResponse(["channel": .string(tracker.configuration.channel.rawValue), "services": .array(services)])
    }
}

/// The signals a heartbeat's status and `switchyard_redis_up` come from.
enum EngineProbe {
    /// Redis answers PING within 2 s (the embedded engine is always reachable), and the spool's state.
    static func signals(_ router: Switchyard.Router) async -> HealthSignals {
        guard let redis = router.engine as? RedisEngine else { return HealthSignals(engineReachable: true) }
        let answered = await withTaskGroup(of: Bool.self) { group in
            group.addTask { (try? await redis.client.execute(PING())) != nil }
            group.addTask {
                try? await Task.sleep(for: .seconds(2))
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        let depth = (try? await redis.spoolDepth) ?? 0
        return HealthSignals(engineReachable: answered, spoolConfigured: redis.configuration.spool != nil, spoolDepth: depth)
    }
}

/// Counts the requests being served: the heartbeat's `active_connections`.
final class InFlightRequests: RouterMiddleware, Sendable {
    typealias Context = GatewayRequestContext
    private let current = Atomic<Int>(0)

    var count: Int { current.load(ordering: .relaxed) }

    func handle(
        _ request: Request, context: GatewayRequestContext,
        next: (Request, GatewayRequestContext) async throws -> Response
    ) async throws -> Response {
        current.add(1, ordering: .relaxed)
        defer { current.subtract(1, ordering: .relaxed) }
        return try await next(request, context)
    }
}

extension PrometheusMetricsFactory {
    /// A factory reporting into `registry`, with Switchyard's histogram buckets
    /// (``Switchyard/SwitchyardMetrics/messageSizeBuckets`` for message sizes).
    /// - Parameter registry: Where the metrics go; `GET /metrics` serves it.
    public static func switchyard(registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.valueHistogramBuckets[SwitchyardMetrics.Name.messageSize] = SwitchyardMetrics.messageSizeBuckets
        return factory
    }
}
