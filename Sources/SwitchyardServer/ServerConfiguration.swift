import Logging
import Metrics
import Switchyard
import SwitchyardDemo
import SwitchyardGateway
import SwitchyardPostgres
import SwitchyardRedis

/// Everything `switchyard serve` runs: the engine, the router's settings, strict mode, the audit
/// trail, the optional bridge and demo, and the HTTP gateway in front of them.
///
/// ``ServerSettings`` resolves the layers (flags, environment, config file, defaults) into one of
/// these; ``buildApplication(configuration:logger:)`` assembles the process from it.
public struct ServerConfiguration: Sendable {
    /// The HTTP side: address, TLS, auth, browser checks, limits, metrics, health and alerts.
    public var gateway: GatewayConfiguration
    /// The engine and how to reach it.
    public var engine: EngineSettings
    /// The contracts folder; `nil` for the shipped contracts.
    public var contractsDirectory: String?
    /// Whether publishes to channels no contract covers are accepted (with the default policy).
    public var allowsUnknownChannels: Bool
    /// The envelope `source` of events published through the server, and its service name in
    /// heartbeats and alerts; default `switchyard-gateway`.
    public var source: String
    /// The HMAC-SHA256 keys of signed events: the router signs what it publishes to critical
    /// channels, and every read (replay, latest, WebSocket) checks the signatures (docs/security.md).
    public var signingKeys: KeyRing?
    /// The AES-256-GCM keys that seal the fields contracts mark `sensitive_fields` before they are stored.
    public var encryptionKeys: KeyRing?
    /// A PostgreSQL URL for strict mode: publishes go through the outbox and reach the engine only
    /// after commit (docs/postgres.md); `nil` (the default) publishes directly.
    public var postgresURL: String?
    /// The append-only audit file (JSON lines) when ``postgresURL`` is not set; with PostgreSQL
    /// the audit goes to `switchyard.audit`. Default `nil`: no audit without PostgreSQL.
    public var auditFile: String?
    /// The Redis bridge (``SwitchyardRedis/RedisBridge``), run as one of the server's services: it
    /// stores what unchanged plain-Redis publishers `PUBLISH` on contract channels
    /// (`switchyard serve --bridge`, docs/migration.md). Needs a Redis engine. Default `nil`.
    public var bridge: RedisBridge.Configuration?
    /// A simulated trading stack (``SwitchyardDemo/DemoStack``) run as one of the server's
    /// services, for `switchyard serve --demo`; default `nil`.
    public var demo: DemoStack.Configuration?

    /// Creates a configuration; every parameter has the default documented on its property.
    public init(
        gateway: GatewayConfiguration = GatewayConfiguration(), engine: EngineSettings = EngineSettings(),
        contractsDirectory: String? = nil, allowsUnknownChannels: Bool = false, source: String = "switchyard-gateway",
        signingKeys: KeyRing? = nil, encryptionKeys: KeyRing? = nil, postgresURL: String? = nil, auditFile: String? = nil,
        bridge: RedisBridge.Configuration? = nil, demo: DemoStack.Configuration? = nil
    ) {
        self.gateway = gateway
        self.engine = engine
        self.contractsDirectory = contractsDirectory
        self.allowsUnknownChannels = allowsUnknownChannels
        self.source = source
        self.signingKeys = signingKeys
        self.encryptionKeys = encryptionKeys
        self.postgresURL = postgresURL
        self.auditFile = auditFile
        self.bridge = bridge
        self.demo = demo
    }

    /// The engine settings as they apply: the spool only on the Redis engine without strict mode
    /// (in strict mode the outbox keeps publishes while Redis is unreachable).
    public var effectiveEngine: EngineSettings {
        var engine = engine
        if engine.redisURL == nil || postgresURL != nil { engine.spoolFile = nil }
        return engine
    }

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

extension ServerConfiguration: CustomStringConvertible {
    /// The listen address, engine, PostgreSQL and TLS settings, with every password and token
    /// masked by ``Switchyard/Redaction``. Safe to log.
    public var description: String {
        var parts = ["\(gateway.tls == nil ? "http" : "https")://\(gateway.host):\(gateway.port)"]
        parts.append("redis: \(engine.redisURL.map(Redaction.url) ?? "embedded")")
        if let redisCAFile = engine.redisCAFile { parts.append("redis_ca: \(redisCAFile)") }
        if let postgresURL { parts.append("postgres: \(Redaction.url(postgresURL))") }
        if let signingKeys { parts.append("\(signingKeys)") }
        if let encryptionKeys { parts.append("\(encryptionKeys)") }
        if let audit = postgresURL.map({ _ in "postgres" }) ?? auditFile { parts.append("audit: \(audit)") }
        if let spool = effectiveEngine.spoolFile { parts.append("spool: \(spool)") }
        parts.append("contracts: \(contractsDirectory ?? "shipped")")
        return "ServerConfiguration(" + parts.joined(separator: ", ") + ")"
    }
}
