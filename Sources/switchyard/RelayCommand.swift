import ArgumentParser
import Foundation
import Logging
import Metrics
import RedisClient
import ServiceLifecycle
import Switchyard
import SwitchyardPostgres
import SwitchyardRedis
import SwitchyardServer
import Tracing

/// `switchyard relay`: runs the outbox relay alone, from PostgreSQL to Redis, until SIGTERM or SIGINT.
/// `switchyard serve --postgres` runs the same relay inside the server.
struct RelayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay",
        abstract: "Publish committed outbox rows from PostgreSQL to Redis.",
        shouldDisplay: false)

    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("A PostgreSQL URL (default: POSTGRES_URL).", valueName: "URL"))
    var postgres: String?
    @Option(help: ArgumentHelp("A Redis URL (default: REDIS_URL).", valueName: "URL"))
    var redis: String?
    @Option(help: "Rows per batch.")
    var batchSize = 500
    @Option(help: "The envelope source of relayed events.")
    var source = "switchyard-relay"
    @Flag(help: "Accept rows for channels no contract covers, with the default policy.")
    var allowUnknownChannels = false
    @OptionGroup var keys: KeyOptions
    @Option(help: ArgumentHelp(
        "Export the relay and publish spans and the metrics to this OTLP/HTTP collector (default: SWITCHYARD_OTLP_ENDPOINT, else none).",
        valueName: "URL"))
    var otlpEndpoint: String?

    func run() async throws {
        var flags = keys.layer
        (flags.postgres, flags.redis, flags.allowUnknownChannels) = (postgres, redis, allowUnknownChannels ? true : nil)
        flags.otlpEndpoint = otlpEndpoint
        let settings = try global.settings(flags)
        let postgresText = try settings.requirePostgres()
        let redisText = try settings.requireRedis()
        var logger = Logger(label: "switchyard")
        logger.logLevel = .info
        let otlp = try settings.otlpEndpoint.map { try OTLPExport(endpoint: $0, serviceName: source) }
        if let otlp {
            InstrumentationSystem.bootstrap(otlp.tracer)
            MetricsSystem.bootstrap(otlp.metricsFactory)
        }
        let (signingKeys, encryptionKeys) = try KeyOptions.rings(settings)
        let postgresURL = try PostgresURL(postgresText)
        // What the relay publishes and quarantines is audited in switchyard.audit, beside the archive.
        let audit = AuditTrail(sink: PostgresAuditSink(url: postgresURL, logger: logger), logger: logger)
        let router = try makeRouter(
            engine: EngineSettings(redisURL: redisText, redisCAFile: settings.redisCA), contractsDirectory: settings.contracts,
            configuration: RouterConfiguration(
                source: source, enforcesRateLimits: false, allowsUnknownChannels: settings.allowUnknownChannels ?? false, signingKeys: signingKeys,
                encryptionKeys: encryptionKeys, audit: audit),
            logger: logger)
        let relay = Relay(
            postgres: try postgresURL.connectionConfiguration(), router: router,
            configuration: Relay.Configuration(batchSize: batchSize), logger: logger)
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: (otlp?.services ?? []) + [audit, router, relay], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
