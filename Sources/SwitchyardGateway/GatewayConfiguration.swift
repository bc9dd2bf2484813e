import NIOSSL
import Prometheus
import Switchyard

/// The HTTP gateway's settings: where it listens, TLS, who may do what, the browser checks,
/// request and WebSocket limits, metrics, heartbeats and alerts. The engine, the contracts and the
/// router's settings are the router's own (``buildApplication(router:configuration:logger:publisher:services:onServerRunning:)``
/// takes a router).
public struct GatewayConfiguration: Sendable {
    /// The address to listen on; default `127.0.0.1`.
    public var host: String
    /// The port to listen on; default 8080 (0 picks a free port).
    public var port: Int
    /// The server side of TLS: with it the gateway serves HTTPS and WSS only (no plain HTTP);
    /// default `nil` (plain HTTP). ``serverTLS(certificateChainFile:privateKeyFile:)`` makes one from PEM files.
    public var tls: TLSConfiguration?
    /// Bytes a request body may exceed the channel's `max_size_bytes` by before it is refused
    /// unread; default 64 KiB.
    public var bodySlackBytes: Int
    /// The largest `POST /v1/events:batch` body; default 16 MiB.
    public var maxBatchBodyBytes: Int
    /// The most events one batch may carry; default 1,000.
    public var maxBatchEvents: Int
    /// The most events one replay returns; default 10,000.
    public var maxReplayLimit: Int
    /// Who may do what; default ``ClosedAuthenticator`` (nobody). `switchyard serve` uses a
    /// ``GatewayAuthenticator`` over its auth settings.
    public var authenticator: any Authenticator
    /// The `Host`, `Origin` and content-type checks that keep web pages of other sites out;
    /// default: IP literals and loopback names as hosts, the gateway's own and loopback origins.
    public var browser: BrowserPolicy
    /// The bearer token `GET /metrics` requires (`Authorization: Bearer <token>`); `nil` (the
    /// default) serves metrics to everyone who passes the ``browser`` checks.
    public var metricsToken: String?
    /// How often the gauges read from the engine (consumer group lag and pending entries,
    /// `switchyard_redis_up`, the spool depth, and in strict mode PostgreSQL's) are refreshed;
    /// `GET /metrics` serves the values of the last refresh and never waits on the engine.
    /// Default 15 s.
    public var metricsRefreshInterval: Duration
    /// The `/v1/ws` sessions' queue limit, heartbeat interval, inbound and per-caller limits.
    public var webSocket: WebSocketConfiguration
    /// How long an HTTP connection may stay open with no request in progress before the gateway
    /// closes it; `nil` never closes it. Default 60 s: longer than any client's keep-alive pause
    /// worth keeping, short enough that idle connections cannot pile up. A WebSocket session is not
    /// an idle HTTP connection: its heartbeats and queue limit keep it in check.
    public var idleTimeout: Duration?
    /// The registry `GET /metrics` serves; `nil` serves none (404). When `switchyard serve`
    /// builds the router, the router reports into it too. Default `nil`; `switchyard serve` passes the
    /// registry it bootstraps the process's metrics with.
    public var metricsRegistry: PrometheusCollectorRegistry?
    /// Heartbeats and the service tracker behind `GET /v1/health/services`; `nil` runs neither.
    /// Default `nil`; `switchyard serve` turns them on.
    public var health: Health?
    /// The alert rules behind `GET /v1/alerts`, published to `system:error_alert`; `nil` runs none.
    /// Default `nil`; `switchyard serve` turns them on with the config file's `alerts` settings.
    public var alerts: AlertConfiguration?

    /// The process's heartbeats (``Switchyard/HealthReporter``) and the tracker of every service's
    /// heartbeats (``Switchyard/HealthTracker``).
    public struct Health: Sendable {
        /// The service name in the heartbeats; default `switchyard-gateway`.
        public var service: String
        /// The heartbeat channel; default `system:health_check` (REC.IO's contract).
        public var channel: ChannelName
        /// Time between this process's heartbeats; default 30 s.
        public var interval: Duration
        /// Silence after which a service is reported unresponsive; default 30 s.
        public var unresponsiveAfter: Duration

        /// Creates the settings; every parameter has the default documented on its property.
        public init(
            service: String = "switchyard-gateway", channel: ChannelName = HealthReporter.Configuration.defaultChannel,
            interval: Duration = .seconds(30), unresponsiveAfter: Duration = .seconds(30)
        ) {
            self.service = service
            self.channel = channel
            self.interval = interval
            self.unresponsiveAfter = unresponsiveAfter
        }
    }

    /// Creates a configuration; every parameter has the default documented on its property.
    public init(
        host: String = "127.0.0.1", port: Int = 8080, bodySlackBytes: Int = 65_536,
        maxBatchBodyBytes: Int = 16 << 20, maxBatchEvents: Int = 1000, maxReplayLimit: Int = 10_000,
        authenticator: any Authenticator = ClosedAuthenticator(), browser: BrowserPolicy = BrowserPolicy(),
        metricsToken: String? = nil, metricsRefreshInterval: Duration = .seconds(15), webSocket: WebSocketConfiguration = WebSocketConfiguration(),
        metricsRegistry: PrometheusCollectorRegistry? = nil, health: Health? = nil,
        alerts: AlertConfiguration? = nil, tls: TLSConfiguration? = nil,
        idleTimeout: Duration? = .seconds(60)
    ) {
        self.idleTimeout = idleTimeout
        self.alerts = alerts
        self.tls = tls
        self.metricsRegistry = metricsRegistry
        self.health = health
        self.host = host
        self.port = port
        self.bodySlackBytes = bodySlackBytes
        self.maxBatchBodyBytes = maxBatchBodyBytes
        self.maxBatchEvents = maxBatchEvents
        self.maxReplayLimit = maxReplayLimit
        self.authenticator = authenticator
        self.browser = browser
        self.metricsToken = metricsToken
        self.metricsRefreshInterval = metricsRefreshInterval
        self.webSocket = webSocket
    }
}
