import ArgumentParser
import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import Switchyard
import SwitchyardDemo
import SwitchyardGateway
import SwitchyardRedis
import SwitchyardServer
import Tracing

/// `switchyard serve`: the HTTP API v1 on the embedded engine, or on Redis with `--redis`.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the HTTP API (embedded engine unless --redis or REDIS_URL is given).",
        discussion: """
            Flags win over the environment (\(ResolvedSettings.environmentVariables.joined(separator: ", "))), \
            which wins over the config file (--config or SWITCHYARD_CONFIG; docs/configuration.md); \
            --print-config prints the resolved settings and where each came from, and exits. Without auth configured, \
            loopback clients may read without credentials (and publish with --allow-anonymous-publish) \
            and everyone else gets 401. Requests whose Host is not an IP literal, localhost or an \
            --allowed-host, browser requests from an origin that is not the gateway's own, loopback or \
            an --allowed-origin, and writes without Content-Type: application/json are refused \
            (docs/security.md). A config error exits 1 \
            naming the key. SIGTERM or SIGINT stops accepting requests, finishes the ones in flight, \
            then stops the engine. GET /metrics serves Prometheus metrics; the server publishes its \
            heartbeat to system:health_check every 30 s and runs the alert rules, \
            publishing to system:error_alert and listing them at GET /v1/alerts (docs/operations.md). \
            The live console is at / (docs/console.md); --demo runs a simulated trading stack on the \
            embedded engine to watch on it. With --tls-cert and --tls-key the API is served over HTTPS \
            and WSS only. --signing-keys-file (or SWITCHYARD_SIGNING_KEYS[_FILE]) signs events of critical \
            channels and checks them on every read; --encryption-keys-file (or \
            SWITCHYARD_ENCRYPTION_KEYS[_FILE]) seals the fields contracts mark sensitive; the audit trail \
            goes to PostgreSQL with --postgres, else to --audit-file (or SWITCHYARD_AUDIT_FILE) \
            (docs/security.md). --bridge stores what unchanged plain-Redis publishers PUBLISH on contract \
            channels, as `switchyard bridge` does (docs/migration.md).
            """)

    @Option(help: "The address to listen on (default: SWITCHYARD_HOST, else 127.0.0.1).")
    var host: String?
    @Option(help: "The port to listen on, 0 for any free port (default: SWITCHYARD_PORT, else 8080).")
    var port: Int?
    @Option(help: ArgumentHelp("A Redis URL (default: REDIS_URL, else the embedded engine).", valueName: "URL"))
    var redis: String?
    @Option(help: ArgumentHelp("A Kafka URL, kafka://HOST:PORT[,HOST:PORT]: run on the Kafka engine (default: SWITCHYARD_KAFKA; not with --redis).", valueName: "URL"))
    var kafka: String?
    @Option(help: ArgumentHelp(
        "A Kafka URL to write every stored event to as well, in order and with its sequence number: the dual-write of a move to Kafka (default: SWITCHYARD_MIRROR; docs/migration.md).",
        valueName: "URL"))
    var mirror: String?
    @Option(help: ArgumentHelp("With --mirror: acknowledge a publish once the primary has it (primary) or once both have it (both) (default: SWITCHYARD_MIRROR_ACK, else primary).", valueName: "MODE"))
    var mirrorAck: MirroredEngine.Acknowledgement?
    @Option(help: ArgumentHelp("A PEM CA file to trust for a rediss:// URL (default: SWITCHYARD_REDIS_CA, else the system's roots).", valueName: "FILE"))
    var redisCA: String?
    @Option(help: ArgumentHelp("The gateway's PEM certificate chain: serve HTTPS and WSS (default: SWITCHYARD_TLS_CERT).", valueName: "FILE"))
    var tlsCert: String?
    @Option(help: ArgumentHelp("The PEM private key of --tls-cert (default: SWITCHYARD_TLS_KEY).", valueName: "FILE"))
    var tlsKey: String?
    @OptionGroup var keys: KeyOptions
    @Option(help: ArgumentHelp("The append-only audit file (JSON lines) when there is no --postgres (default: SWITCHYARD_AUDIT_FILE).", valueName: "FILE"))
    var auditFile: String?
    @Option(help: ArgumentHelp(
        "The local spool file: with --redis and no --postgres, publishes made while Redis is unreachable wait there and are stored in order when it returns (default: SWITCHYARD_SPOOL).",
        valueName: "FILE"))
    var spool: String?
    @Option(help: ArgumentHelp("The most channel patterns one WebSocket session may subscribe to (default: SWITCHYARD_WS_MAX_PATTERNS, else 100).", valueName: "N"))
    var wsMaxPatterns: Int?
    @Option(help: ArgumentHelp("The most WebSocket sessions one caller may have open; anonymous callers count per IP address (default: SWITCHYARD_WS_MAX_SESSIONS, else 32).", valueName: "N"))
    var wsMaxSessions: Int?
    @Option(help: ArgumentHelp("Seconds an HTTP connection may stay idle before it is closed, 0 for never (default: SWITCHYARD_IDLE_TIMEOUT, else 60).", valueName: "SECONDS"))
    var idleTimeout: Int?
    @Option(help: ArgumentHelp(
        "Export the publish, relay and deliver spans and the metrics to this OTLP/HTTP collector, such as http://127.0.0.1:4318 (default: SWITCHYARD_OTLP_ENDPOINT, else none).",
        valueName: "URL"))
    var otlpEndpoint: String?
    @Option(help: ArgumentHelp("The contracts folder (default: SWITCHYARD_CONTRACTS, else the shipped contracts).", valueName: "DIR"))
    var contracts: String?
    @Option(help: ArgumentHelp("A JSON config file (default: SWITCHYARD_CONFIG); see docs/configuration.md.", valueName: "FILE"))
    var config: String?
    @Flag(inversion: .prefixedNo, help: "Accept publishes to channels no contract covers, with the default policy (default: SWITCHYARD_ALLOW_UNKNOWN_CHANNELS, else no).")
    var allowUnknownChannels: Bool?
    @Flag(inversion: .prefixedNo, help: "Without an auth section, let loopback clients without credentials publish too, not only read (default: SWITCHYARD_ALLOW_ANONYMOUS_PUBLISH, else no).")
    var allowAnonymousPublish: Bool?
    @Flag(help: "Print the resolved settings, each with where it came from (flag, environment, file, default), secrets masked; then exit.")
    var printConfig = false
    @Option(help: ArgumentHelp(
        "A host name to serve besides IP literals and localhost, e.g. events.example.com or *.example.com; repeat for more, * for any (default: SWITCHYARD_ALLOWED_HOSTS).",
        valueName: "NAME"))
    var allowedHost: [String] = []
    @Option(help: ArgumentHelp(
        "A browser origin allowed besides the gateway's own and loopback ones, e.g. https://app.example.com; repeat for more (default: SWITCHYARD_ALLOWED_ORIGINS).",
        valueName: "ORIGIN"))
    var allowedOrigin: [String] = []
    @Option(help: ArgumentHelp("A PostgreSQL URL for strict mode: migrate, run the relay, publish through the outbox (default: POSTGRES_URL).", valueName: "URL"))
    var postgres: String?
    @Flag(help: "Run a simulated trading stack (prices, orders, fills, positions, P&L, heartbeats, two consumer groups) on the embedded engine; open http://HOST:PORT/ to watch it. Without an auth section, loopback clients may publish and requeue too.")
    var demo = false
    @Flag(help: "Run the Redis bridge in the server: store what unchanged plain-Redis publishers PUBLISH on contract channels (needs --redis or REDIS_URL; docs/migration.md).")
    var bridge = false
    @Option(help: ArgumentHelp("With --bridge: the envelope source of bridged events and the group of its dead letters (default: bridge).", valueName: "NAME"))
    var bridgeSource: String?
    @Option(help: ArgumentHelp("The demo's random seed: the same seed gives the same simulated events (default: a random one).", valueName: "N"))
    var demoSeed: UInt64?

    func run() async throws {
        var configuration: ServerConfiguration
        let resolved: ResolvedSettings
        do {
            resolved = try self.resolvedSettings(environment: ProcessInfo.processInfo.environment)
            if printConfig {
                print(resolved.report())
                return
            }
            configuration = try await ServerConfiguration(settings: resolved.settings)
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(1)
        }
        let settings = resolved.settings
        var logger = Logger(label: "switchyard")
        logger.logLevel = .info
        if demo {
            let overridden = resolved.layers.dropLast().contains { layer in
                [layer.settings.redis, layer.settings.postgres].contains { $0.map { !$0.isEmpty } ?? false }
            }
            if overridden { logger.notice("--demo runs on the embedded engine: the Redis and PostgreSQL settings are ignored") }
            configuration.demo = DemoStack.Configuration(seed: demoSeed)
        }
        if bridge {
            guard configuration.engine.redisURL != nil else {
                FileHandle.standardError.write(Data("error: --bridge takes plain publishes from Redis: give --redis URL or set REDIS_URL\n".utf8))
                throw ExitCode(1)
            }
            configuration.bridge = RedisBridge.Configuration(source: bridgeSource ?? "bridge")
        }
        if let spool = configuration.engine.spoolFile, configuration.effectiveEngine.spoolFile == nil {
            logger.notice(
                "the spool is not used: it keeps publishes while Redis is unreachable, so it needs --redis, and with --postgres the outbox keeps them",
                metadata: ["spool": "\(spool)"])
        }
        let registry = PrometheusCollectorRegistry()
        let prometheus = PrometheusMetricsFactory.switchyard(registry: registry)
        var otlp: OTLPExport?
        if let endpoint = settings.otlpEndpoint {
            do {
                otlp = try OTLPExport(endpoint: endpoint, serviceName: configuration.source)
            } catch {
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                throw ExitCode(1)
            }
        }
        if let otlp {
            InstrumentationSystem.bootstrap(otlp.tracer)
            MetricsSystem.bootstrap(MultiplexMetricsHandler(factories: [prometheus, otlp.metricsFactory]))
        } else {
            MetricsSystem.bootstrap(prometheus)
        }
        configuration.gateway.metricsRegistry = registry
        configuration.gateway.health = GatewayConfiguration.Health(service: configuration.source)
        if settings.alertsEnabled ?? true {
            var alerts = settings.alerts ?? AlertConfiguration()
            alerts.service = configuration.source
            configuration.gateway.alerts = alerts
        }
        var app = try buildApplication(configuration: configuration, logger: logger)
        if let otlp { app.addServices(otlp.services) }
        let gateway = configuration.gateway
        logger.info("switchyard serve", metadata: [
            "engine": "\(configuration.engine.redisURL != nil ? "redis" : configuration.engine.kafkaURL != nil ? "kafka" : "embedded")",
            "mirror": "\(configuration.engine.mirrorURL.map { "\(Redaction.url($0)) (ack \(configuration.engine.mirrorAcknowledgement.rawValue))" } ?? "off")",
            "address": "\(gateway.host):\(gateway.port)", "console": "http://\(gateway.host):\(gateway.port)/",
            "tls": "\(gateway.tls != nil)",
            "signing": "\(configuration.signingKeys.map { "\($0)" } ?? "off")",
            "encryption": "\(configuration.encryptionKeys.map { "\($0)" } ?? "off")",
            "audit": "\(configuration.postgresURL != nil ? "postgres" : configuration.auditFile ?? "off")",
            "spool": "\(configuration.effectiveEngine.spoolFile ?? "off")",
            "bridge": "\(configuration.bridge.map(\.source) ?? "off")",
            "otlp": "\(otlp.map { Redaction.url($0.endpoint) } ?? "off")",
        ])
        try await app.runService()
    }

    /// The settings: flags over the environment over the config file over the defaults; with
    /// `--demo`, one more layer on top: the embedded engine, no PostgreSQL, and (without an auth
    /// section) anonymous publishing, since the demo's console requeues dead letters.
    func resolvedSettings(environment: [String: String]) throws(GatewayConfigurationError) -> ResolvedSettings {
        var resolved = try ResolvedSettings.resolve(configFile: config, environment: environment, flags: ServerSettings(
            host: host, port: port, redis: redis, postgres: postgres, contracts: contracts, allowUnknownChannels: allowUnknownChannels,
            redisCA: redisCA, tlsCert: tlsCert, tlsKey: tlsKey, signingKeys: keys.signingKeysFile.map { .file($0) },
            encryptionKeys: keys.encryptionKeysFile.map { .file($0) }, auditFile: auditFile,
            spoolFile: spool, allowedHosts: allowedHost.isEmpty ? nil : allowedHost,
            allowedOrigins: allowedOrigin.isEmpty ? nil : allowedOrigin, allowAnonymousPublish: allowAnonymousPublish,
            wsMaxPatterns: wsMaxPatterns, wsMaxSessions: wsMaxSessions, idleTimeoutSeconds: idleTimeout, otlpEndpoint: otlpEndpoint,
            kafka: kafka, mirror: mirror, mirrorAcknowledgement: mirrorAck))
        if demo {
            var layer = ServerSettings(redis: "", postgres: "", kafka: "", mirror: "")
            if resolved.settings.auth == nil, resolved.settings.allowAnonymousPublish == nil { layer.allowAnonymousPublish = true }
            resolved.adding(ResolvedSettings.Layer(source: "--demo", settings: layer))
        }
        return resolved
    }

    func validate() throws {
        if let port, !(0...65535).contains(port) { throw ValidationError("--port must be between 0 and 65535") }
        if let wsMaxPatterns, wsMaxPatterns < 1 { throw ValidationError("--ws-max-patterns must be at least 1") }
        if let wsMaxSessions, wsMaxSessions < 1 { throw ValidationError("--ws-max-sessions must be at least 1") }
        if let idleTimeout, idleTimeout < 0 { throw ValidationError("--idle-timeout must be 0 (never) or more seconds") }
        if redis != nil, kafka != nil {
            throw ValidationError("choose one engine: --redis or --kafka (to write to both during a move, use --redis with --mirror)")
        }
        if mirrorAck != nil, mirror == nil { throw ValidationError("--mirror-ack needs --mirror") }
        if demo, redis != nil || postgres != nil || kafka != nil || mirror != nil {
            throw ValidationError("--demo runs on the embedded engine: it publishes simulated trades, so it does not take --redis, --kafka, --mirror or --postgres")
        }
        if demoSeed != nil, !demo { throw ValidationError("--demo-seed needs --demo") }
        if bridge, demo { throw ValidationError("--bridge takes plain publishes from Redis: --demo runs on the embedded engine") }
        if bridgeSource != nil, !bridge { throw ValidationError("--bridge-source needs --bridge") }
        if let bridgeSource, !ChannelPolicy.isValidServiceName(bridgeSource) || bridgeSource == "*" {
            throw ValidationError("--bridge-source must be a service name: letters, digits, '_', '.' and '-'")
        }
    }
}

extension MirroredEngine.Acknowledgement: ExpressibleByArgument {}
