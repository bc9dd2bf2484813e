import HTTPTypes
import Hummingbird
import JSONSchema
import Metrics
import NIOCore
import Prometheus
import ServiceLifecycle
import Switchyard
import Synchronization

extension Gateway {
    /// `GET /metrics`: the registry in Prometheus text format. With a
    /// ``GatewayConfiguration/metricsToken`` it needs `Authorization: Bearer <token>` (compared in
    /// constant time); without one it is open. The gauges read from the engine are those of the
    /// last ``MetricsRefresher`` run: a scrape never reaches Redis or PostgreSQL.
    func metrics(_ registry: PrometheusCollectorRegistry, _ request: Request) throws -> Response {
        if let token = configuration.metricsToken {
            guard case .bearer(let given)? = try? Credential.from(request), constantTimeEquals(given.utf8, token.utf8) else {
                refusals?.count("metrics_token")
                throw SwitchyardError(.unauthorized, "GET /metrics needs Authorization: Bearer <metrics token>")
            }
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

/// Refreshes, on a timer, the gauges `GET /metrics` serves that are read from the engine: the
/// consumer groups' lag and pending entries, `switchyard_redis_up` and `switchyard_spool_depth`,
/// and in strict mode `switchyard_postgres_up` and `switchyard_relay_lag_seconds`.
///
/// The work is one engine pass per interval whatever the number of scrapes, so scrapers cannot
/// drive engine load.
struct MetricsRefresher: Service {
    let router: Switchyard.Router
    let registry: PrometheusCollectorRegistry
    /// Where publishes go; strict mode reports `switchyard_postgres_up` and the relay's lag.
    let publisher: any Publisher
    let interval: Duration

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                // A pass the engine could not answer (it is starting, or unreachable) is tried
                // again within a second rather than a whole interval later.
                let complete = await refresh()
                do { try await Task.sleep(for: complete ? interval : min(interval, .seconds(1))) } catch { return }
            }
        }
    }

    /// One refresh of every gauge.
    /// - Returns: Whether the engine answered the consumer group reads.
    @discardableResult
    func refresh() async -> Bool {
        let complete = (try? await router.refreshGroupMetrics()) != nil
        let factory = PrometheusMetricsFactory.switchyard(registry: registry)
        await publisher.refreshGauges(factory)
        let health = await router.health()
        if health.engine == "redis" {
            Gauge(label: SwitchyardMetrics.Name.redisUp, factory: factory).record(health.reachable ? 1 : 0)
            Gauge(label: SwitchyardMetrics.Name.spoolDepth, dimensions: [(SwitchyardMetrics.Label.engine, "redis")], factory: factory)
                .record(health.spoolDepth)
        }
        return complete
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
