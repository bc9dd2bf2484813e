import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import HummingbirdWebSocket
import Logging
import Metrics
import NIOCore
import Prometheus
import RedisClient
import ServiceLifecycle
import Switchyard
import SwitchyardPostgres
import SwitchyardRedis

/// The HTTP application type `switchyard serve` runs.
public typealias GatewayApplication = Application<RouterResponder<GatewayRequestContext>>

/// Builds the gateway for a configuration: the engine (Redis when a URL is given, else embedded),
/// the router, and the HTTP server, as one application.
///
/// Run it with `runService()`: the router (and through it the engine) and the HTTP server run in
/// one `ServiceGroup` with graceful shutdown on SIGTERM and SIGINT. The server stops first and
/// finishes its in-flight requests (publishes included), then the router and engine stop.
/// - Throws: ``Switchyard/ContractFolderError`` when the contracts cannot be loaded, or a
///   `RedisError` when the Redis URL is invalid or ``GatewayConfiguration/redisCAFile`` cannot be read.
public func buildApplication(configuration: GatewayConfiguration, logger: Logger) throws -> GatewayApplication {
    let contracts = try configuration.contractsDirectory.map { try ContractRegistry.load(from: $0) } ?? ContractRegistry.shipped()
    let engine: any Engine
    if let url = configuration.redisURL {
        var redis = try RedisConfiguration(url: url)
        if let caFile = configuration.redisCAFile {
            guard redis.tls.isEnabled else {
                throw RedisError(.invalidConfiguration, serverMessage: "a Redis CA file is set but the Redis URL is not rediss://")
            }
            redis.tls = try .require(certificateAuthorityFile: caFile)
        }
        let client = try RedisClient(configuration: redis, logger: logger)
        let spool = configuration.effectiveSpoolFile.map { Spool.Configuration(path: $0) }
        engine = RedisEngine(client: client, configuration: RedisEngine.Configuration(spool: spool), logger: logger)
    } else {
        engine = EmbeddedEngine(logger: logger)
    }
    let metricsFactory = configuration.metricsRegistry.map { PrometheusMetricsFactory.switchyard(registry: $0) }
    let audit = try configuration.auditTrail(logger: logger, metricsFactory: metricsFactory)
    let router = Switchyard.Router(
        contracts: contracts, engine: engine,
        configuration: RouterConfiguration(
            source: configuration.source, allowsUnknownChannels: configuration.allowsUnknownChannels, metricsFactory: metricsFactory,
            signingKeys: configuration.signingKeys, encryptionKeys: configuration.encryptionKeys, audit: audit),
        logger: logger)
    let strictMode = try configuration.postgresURL.map { try StrictMode(url: try PostgresURL($0), router: router, logger: logger) }
    return try buildApplication(router: router, configuration: configuration, logger: logger, strictMode: strictMode)
}

extension GatewayConfiguration {
    /// The audit trail this configuration asks for: `switchyard.audit` in PostgreSQL when
    /// ``postgresURL`` is set, else ``auditFile``, else none.
    /// - Throws: ``SwitchyardPostgres/PostgresURLError`` for a PostgreSQL URL that cannot be read.
    public func auditTrail(logger: Logger, metricsFactory: (any MetricsFactory)? = nil) throws -> AuditTrail? {
        if let postgresURL {
            return AuditTrail(sink: PostgresAuditSink(url: try PostgresURL(postgresURL), logger: logger), logger: logger, metricsFactory: metricsFactory)
        }
        return auditFile.map { AuditTrail(sink: AuditFile(path: $0), logger: logger, metricsFactory: metricsFactory) }
    }
}

/// Builds the gateway around an existing router (tests, embedding in another process).
///
/// The router is one of the application's services: `runService()` runs it, and stops it after
/// the HTTP server has drained. With `strictMode`, publishes go through its outbox, and it runs
/// (migrations, relay) as one of the application's services, started after the router and stopped
/// before it. With ``GatewayConfiguration/health`` set, the process's ``Switchyard/HealthReporter``
/// and a ``Switchyard/HealthTracker`` run as services too; with ``GatewayConfiguration/alerts``
/// set, an ``Switchyard/AlertMonitor`` does (its unresponsive rule needs `health`); with
/// ``GatewayConfiguration/demo`` set, so does a ``DemoStack`` publishing through the router; with
/// ``GatewayConfiguration/bridge`` set, a ``SwitchyardRedis/RedisBridge`` (the router's engine must
/// then be a ``SwitchyardRedis/RedisEngine``, else it throws ``GatewayConfigurationError``).
/// With ``GatewayConfiguration/tls`` set, it serves HTTPS and WSS only. The router's audit trail,
/// when it has one, runs as a service too, started first and stopped last. `onServerRunning` is
/// called with the listening channel once the server accepts connections (its local address
/// names the port when ``GatewayConfiguration/port`` is 0).
/// - Throws: an error of HummingbirdTLS when the TLS server cannot be set up.
public func buildApplication(
    router: Switchyard.Router, configuration: GatewayConfiguration, logger: Logger, strictMode: StrictMode? = nil,
    onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
) throws -> GatewayApplication {
    let routes = Hummingbird.Router(context: GatewayRequestContext.self)
    let inFlight = InFlightRequests()
    routes.add(middleware: inFlight)
    routes.add(middleware: ErrorBodyMiddleware())
    let refusals = GatewayRefusals(factory: configuration.metricsFactory(router: router))
    routes.add(middleware: BrowserPolicyMiddleware(policy: configuration.browser, refusals: refusals))
    routes.add(middleware: AuthenticationMiddleware(authenticator: configuration.authenticator))
    let fanout = LiveFanout(router: router, eventFrames: EventFrameCache(router: router), logger: logger)
    let publisher: any Publisher = strictMode ?? router
    // The audit trail first: services stop in reverse order, so it writes the router's last records.
    var services: [any Service] = (router.configuration.audit.map { [$0] } ?? []) + [router] + (strictMode.map { [$0] } ?? []) + [fanout]
    var tracker: HealthTracker?
    if let health = configuration.health {
        let reporter = HealthReporter(
            router: router, configuration: .init(service: health.service, channel: health.channel, interval: health.interval),
            logger: logger
        ) {
            var signals = await router.engine.health().signals
            signals.activeConnections = inFlight.count
            return signals
        }
        tracker = HealthTracker(router: router, configuration: .init(channel: health.channel, unresponsiveAfter: health.unresponsiveAfter), logger: logger)
        services += [tracker!, reporter]
    }
    if let demo = configuration.demo {
        services.append(DemoStack(router: router, configuration: demo, logger: logger))
    }
    if let bridge = configuration.bridge {
        guard let engine = router.engine as? RedisEngine else {
            throw GatewayConfigurationError(key: "bridge", "the bridge takes plain publishes from Redis: it needs the Redis engine (--redis or REDIS_URL)")
        }
        services.append(RedisBridge(router: router, engine: engine, configuration: bridge, logger: logger, metricsFactory: router.configuration.metricsFactory))
    }
    let monitor = configuration.alerts.map { alerts in
        AlertMonitor(router: router, healthTracker: tracker, configuration: alerts, logger: logger) { await router.engine.health().signals }
    }
    if let monitor { services.append(monitor) }
    if let registry = configuration.metricsRegistry {
        services.append(MetricsRefresher(router: router, registry: registry, publisher: publisher, interval: configuration.metricsRefreshInterval))
    }
    Gateway(
        router: router, configuration: configuration, fanout: fanout, publisher: publisher, healthTracker: tracker, alertMonitor: monitor,
        webSocketMetrics: WebSocketMetrics(factory: configuration.metricsFactory(router: router), contracts: router.contracts),
        refusals: refusals
    ).addRoutes(to: routes)
    let channelConfiguration = HTTP1WebSocketUpgradeChannel.Configuration(
        http1: .init(idleTimeout: configuration.idleTimeout.map { TimeAmount($0) }), ws: .init(maxFrameSize: configuration.webSocket.maxFrameBytes))
    let http: HTTPServerBuilder
    if let idleTimeout = configuration.idleTimeout {
        // Hummingbird's idle timeout starts after a first request head: until then, this deadline.
        let webSocketResponder = routes.buildResponder()
        http = .requestHeadDeadline(TimeAmount(idleTimeout), refusals: refusals) { responder in
            HTTP1WebSocketUpgradeChannel(responder: responder, webSocketResponder: webSocketResponder, configuration: channelConfiguration)
        }
    } else {
        http = .http1WebSocketUpgrade(webSocketRouter: routes, configuration: channelConfiguration)
    }
    return Application(
        router: routes,
        server: try configuration.tls.map { try HTTPServerBuilder.tls(http, tlsConfiguration: $0) } ?? http,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "switchyard"),
        services: services,
        onServerRunning: onServerRunning,
        logger: logger)
}
