import NIOSSL
import Prometheus
import Switchyard
import SwitchyardRedis

/// How `switchyard serve` runs: where it listens, which engine and contracts it uses.
public struct GatewayConfiguration: Sendable {
    /// The address to listen on; default `127.0.0.1`.
    public var host: String
    /// The port to listen on; default 8080 (0 picks a free port).
    public var port: Int
    /// A Redis URL; `nil` runs the in-process ``Switchyard/EmbeddedEngine``. It may carry a user and
    /// password (`redis://user:pass@host`); they never appear in logs, errors or metrics.
    public var redisURL: String?
    /// A PEM file of the CA to trust for a `rediss://` URL instead of the system's roots; default `nil`.
    public var redisCAFile: String?
    /// The server side of TLS: with it the gateway serves HTTPS and WSS only (no plain HTTP);
    /// default `nil` (plain HTTP). ``serverTLS(certificateChainFile:privateKeyFile:)`` makes one from PEM files.
    public var tls: TLSConfiguration?
    /// The contracts folder; `nil` for the shipped contracts.
    public var contractsDirectory: String?
    /// Whether publishes to channels no contract covers are accepted (with the default policy).
    public var allowsUnknownChannels: Bool
    /// The envelope `source` of events published through the gateway; default `switchyard-gateway`.
    public var source: String
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
    /// A PostgreSQL URL for strict mode: publishes go through the outbox and reach the engine only
    /// after commit (docs/postgres.md); `nil` (the default) publishes directly.
    public var postgresURL: String?
    /// The registry `GET /metrics` serves; `nil` serves none (404). When ``buildApplication(configuration:logger:)``
    /// creates the router, the router reports into it. Default `nil`; `switchyard serve` passes the
    /// registry it bootstraps the process's metrics with.
    public var metricsRegistry: PrometheusCollectorRegistry?
    /// Heartbeats and the service tracker behind `GET /v1/health/services`; `nil` runs neither.
    /// Default `nil`; `switchyard serve` turns them on.
    public var health: Health?
    /// A simulated trading stack (``DemoStack``) run as one of the application's services, for
    /// `switchyard serve --demo`; `nil` (the default) runs none.
    public var demo: DemoStack.Configuration?
    /// The Redis bridge (``SwitchyardRedis/RedisBridge``), run as one of the application's services:
    /// it stores what unchanged plain-Redis publishers `PUBLISH` on contract channels
    /// (`switchyard serve --bridge`, docs/migration.md). Needs ``redisURL``. Default `nil`: no bridge.
    public var bridge: RedisBridge.Configuration? = nil
    /// The alert rules behind `GET /v1/alerts`, published to `system:error_alert`; `nil` runs none.
    /// Default `nil`; `switchyard serve` turns them on with the config file's `alerts` settings.
    public var alerts: AlertConfiguration?
    /// The HMAC-SHA256 keys of signed events: the router signs what it publishes to critical
    /// channels, and every read (replay, latest, WebSocket) checks the signatures (docs/security.md).
    /// Default `nil`.
    public var signingKeys: KeyRing?
    /// The AES-256-GCM keys that seal the fields contracts mark `sensitive_fields` before they are
    /// stored. Reads return the fields sealed. Default `nil`.
    public var encryptionKeys: KeyRing?
    /// The append-only audit file (JSON lines) when ``postgresURL`` is not set; with PostgreSQL
    /// the audit goes to `switchyard.audit`. Default `nil`: no audit without PostgreSQL.
    public var auditFile: String?
    /// The Redis engine's local spool file: while Redis is unreachable, publishes are written
    /// there (fsynced) and answered `202 Accepted`, then replayed in order when Redis returns; a
    /// full spool refuses with `spool_full`. It applies to the Redis engine without
    /// ``postgresURL`` (in strict mode the outbox keeps publishes). Default `nil`: a publish while
    /// Redis is unreachable is refused with `engine_unavailable`.
    public var spoolFile: String?

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
        host: String = "127.0.0.1", port: Int = 8080, redisURL: String? = nil, contractsDirectory: String? = nil,
        allowsUnknownChannels: Bool = false, source: String = "switchyard-gateway", bodySlackBytes: Int = 65_536,
        maxBatchBodyBytes: Int = 16 << 20, maxBatchEvents: Int = 1000, maxReplayLimit: Int = 10_000,
        authenticator: any Authenticator = ClosedAuthenticator(), browser: BrowserPolicy = BrowserPolicy(),
        metricsToken: String? = nil, metricsRefreshInterval: Duration = .seconds(15), webSocket: WebSocketConfiguration = WebSocketConfiguration(), postgresURL: String? = nil,
        metricsRegistry: PrometheusCollectorRegistry? = nil, health: Health? = nil, demo: DemoStack.Configuration? = nil,
        alerts: AlertConfiguration? = nil, redisCAFile: String? = nil, tls: TLSConfiguration? = nil,
        idleTimeout: Duration? = .seconds(60)
    ) {
        self.idleTimeout = idleTimeout
        self.demo = demo
        self.alerts = alerts
        self.redisCAFile = redisCAFile
        self.tls = tls
        self.metricsRegistry = metricsRegistry
        self.health = health
        self.host = host
        self.port = port
        self.redisURL = redisURL
        self.contractsDirectory = contractsDirectory
        self.allowsUnknownChannels = allowsUnknownChannels
        self.source = source
        self.bodySlackBytes = bodySlackBytes
        self.maxBatchBodyBytes = maxBatchBodyBytes
        self.maxBatchEvents = maxBatchEvents
        self.maxReplayLimit = maxReplayLimit
        self.authenticator = authenticator
        self.browser = browser
        self.metricsToken = metricsToken
        self.metricsRefreshInterval = metricsRefreshInterval
        self.webSocket = webSocket
        self.postgresURL = postgresURL
    }
}

extension GatewayConfiguration: CustomStringConvertible {
    /// The listen address, engine, PostgreSQL and TLS settings, with every password and token
    /// masked by ``Switchyard/Redaction``. Safe to log.
    public var description: String {
        var parts = ["\(tls == nil ? "http" : "https")://\(host):\(port)"]
        parts.append("redis: \(redisURL.map(Redaction.url) ?? "embedded")")
        if let redisCAFile { parts.append("redis_ca: \(redisCAFile)") }
        if let postgresURL { parts.append("postgres: \(Redaction.url(postgresURL))") }
        if let signingKeys { parts.append("\(signingKeys)") }
        if let encryptionKeys { parts.append("\(encryptionKeys)") }
        if let audit = postgresURL.map({ _ in "postgres" }) ?? auditFile { parts.append("audit: \(audit)") }
        if let spool = effectiveSpoolFile { parts.append("spool: \(spool)") }
        parts.append("contracts: \(contractsDirectory ?? "shipped")")
        return "GatewayConfiguration(" + parts.joined(separator: ", ") + ")"
    }
}

extension GatewayConfiguration {
    /// ``spoolFile`` when it applies: the Redis engine, not in strict mode.
    public var effectiveSpoolFile: String? {
        redisURL != nil && postgresURL == nil ? spoolFile : nil
    }
}
