import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import HummingbirdWebSocket
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle
import Switchyard

/// The HTTP application type `switchyard serve` runs.
public typealias GatewayApplication = Application<RouterResponder<GatewayRequestContext>>

/// Builds the gateway around an existing router (tests, embedding in another process).
///
/// The router is one of the application's services: `runService()` runs it, and stops it after
/// the HTTP server has drained. With `publisher`, publishes go through it instead of the router
/// (strict mode's outbox), and it runs as one of the application's services, started after the
/// router and stopped before it; so do `services` (the bridge, the demo), in their order, after
/// the publisher. With ``GatewayConfiguration/health`` set, the process's ``Switchyard/HealthReporter``
/// and a ``Switchyard/HealthTracker`` run as services too; with ``GatewayConfiguration/alerts``
/// set, an ``Switchyard/AlertMonitor`` does (its unresponsive rule needs `health`). With ``GatewayConfiguration/tls`` set, it serves HTTPS and WSS only. The router's audit trail,
/// when it has one, runs as a service too, started first and stopped last. `onServerRunning` is
/// called with the listening channel once the server accepts connections (its local address
/// names the port when ``GatewayConfiguration/port`` is 0).
/// - Throws: an error of HummingbirdTLS when the TLS server cannot be set up.
public func buildApplication(
    router: Switchyard.Router, configuration: GatewayConfiguration, logger: Logger,
    publisher: (any Publisher & Service)? = nil, services extraServices: [any Service] = [],
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
    let front = publisher
    let publisher: any Publisher = front ?? router
    // The audit trail first: services stop in reverse order, so it writes the router's last records.
    var services: [any Service] = (router.configuration.audit.map { [$0] } ?? []) + [router]
    if let front { services.append(front) }
    services += extraServices + [fanout]
    var tracker: HealthTracker?
    if let health = configuration.health {
        let reporter = HealthReporter(
            router: router, configuration: .init(service: health.service, channel: health.channel, interval: health.interval),
            logger: logger
        ) {
            var signals = await router.health().signals
            signals.activeConnections = inFlight.count
            return signals
        }
        tracker = HealthTracker(router: router, configuration: .init(channel: health.channel, unresponsiveAfter: health.unresponsiveAfter), logger: logger)
        services += [tracker!, reporter]
    }
    let monitor = configuration.alerts.map { alerts in
        AlertMonitor(router: router, healthTracker: tracker, configuration: alerts, logger: logger) { await router.health().signals }
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
