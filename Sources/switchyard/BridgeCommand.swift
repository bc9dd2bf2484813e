import ArgumentParser
import Foundation
import Logging
import RedisClient
import ServiceLifecycle
import Switchyard
import SwitchyardRedis
import SwitchyardServer

/// `switchyard bridge`: stores what unchanged plain-Redis publishers `PUBLISH` on contract
/// channels as Switchyard events, until SIGTERM or SIGINT (docs/migration.md).
/// `switchyard serve --bridge` runs the same bridge inside the server.
struct BridgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bridge",
        abstract: "Store plain Redis PUBLISHes on contract channels as Switchyard events (the migration path).",
        discussion: """
            Subscribes (PSUBSCRIBE) to every contract's channel or pattern, checks each plain JSON \
            message against its contract and stores it through the router: envelope (source --source), \
            sequence number, stream, consumer groups, WebSocket. Refused messages go to dlq:{CHANNEL} \
            with group --source (`switchyard dlq list CHANNEL --redis URL`). Switchyard's own live \
            messages are skipped; several bridges on one Redis store each message once. docs/migration.md.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("A Redis URL (default: REDIS_URL).", valueName: "URL"))
    var redis: String?
    @Option(help: "The envelope source of bridged events, and the group of the bridge's dead letters.")
    var source = "bridge"
    @Option(help: ArgumentHelp("Seconds a claim keeps identical bytes on one channel from being stored again.", valueName: "SECONDS"))
    var claimWindow: Double = 5
    @Option(help: ArgumentHelp("Take only these channels or patterns instead of every contract's; repeat for more.", valueName: "PATTERN"))
    var pattern: [String] = []
    @Flag(help: "Store messages on channels no contract covers (with --pattern), with the default policy.")
    var allowUnknownChannels = false
    @OptionGroup var keys: KeyOptions

    func validate() throws {
        if claimWindow <= 0 { throw ValidationError("--claim-window must be positive") }
        if !ChannelPolicy.isValidServiceName(source) || source == "*" { throw ValidationError("--source must be a service name: letters, digits, '_', '.' and '-'") }
    }

    func run() async throws {
        var flags = keys.layer
        (flags.redis, flags.allowUnknownChannels) = (redis, allowUnknownChannels ? true : nil)
        let settings = try global.settings(flags)
        var logger = Logger(label: "switchyard")
        logger.logLevel = .info
        let services = try buildBridge(settings: settings, logger: logger)
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// The router (which runs the engine and its client) and the bridge, in start order.
    func buildBridge(settings: ServerSettings, logger: Logger) throws -> [any Service] {
        let redisURL = try settings.requireRedis()
        let patterns = try pattern.map { text in
            do { return try ChannelPattern(text) } catch { throw ValidationError("--pattern '\(text)': \(error)") }
        }
        let (signingKeys, encryptionKeys) = try KeyOptions.rings(settings)
        let engine = try EngineSettings(redisURL: redisURL, redisCAFile: settings.redisCA).makeRedisEngine(logger: logger)
        let router = try makeRouter(
            on: engine, contractsDirectory: settings.contracts,
            configuration: RouterConfiguration(
                source: source, allowsUnknownChannels: settings.allowUnknownChannels ?? false, signingKeys: signingKeys, encryptionKeys: encryptionKeys),
            logger: logger)
        let bridge = RedisBridge(
            router: router, engine: engine,
            configuration: RedisBridge.Configuration(
                source: source, patterns: patterns.isEmpty ? nil : patterns, claimWindow: .milliseconds(Int64(claimWindow * 1000))),
            logger: logger)
        return [router, bridge]
    }
}
