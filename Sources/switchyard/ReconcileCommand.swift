import ArgumentParser
import Foundation
import JSONSchema
import Logging
import PostgresNIO
import RedisClient
import Switchyard
import SwitchyardPostgres
import SwitchyardRedis
import SwitchyardServer

/// `switchyard reconcile`: compares the PostgreSQL archive with the Redis streams for a time
/// window, lists what either side lacks, and with `--repair` re-publishes what Redis lacks; with
/// `--kafka`, compares Redis with the Kafka topics a dual-write mirrors it to, and with `--repair`
/// writes to Kafka what it lacks.
struct ReconcileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Compare the PostgreSQL archive with Redis for a time window, or Redis with its Kafka mirror (--kafka); --repair fills what is missing.",
        discussion: """
            Prints one JSON object per channel. Exits with status 1 when something is missing and --repair was not given, \
            or (with --kafka) when a channel still differs after the repair.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("A PostgreSQL URL (default: POSTGRES_URL).", valueName: "URL"))
    var postgres: String?
    @Option(help: ArgumentHelp("A Redis URL (default: REDIS_URL).", valueName: "URL"))
    var redis: String?
    @Option(help: ArgumentHelp("A Kafka URL: compare Redis with the topics a dual-write (serve --mirror) writes there, instead of the archive.", valueName: "URL"))
    var kafka: String?
    @Option(help: ArgumentHelp("The window's start, RFC 3339 (needed without --kafka).", valueName: "TIME"))
    var since: String?
    @Option(help: ArgumentHelp("The window's end, RFC 3339 (default: now).", valueName: "TIME"))
    var until: String?
    @Option(help: ArgumentHelp("Only this channel (default: every channel the archive has in the window).", valueName: "CHANNEL"))
    var channel: String?
    @Flag(help: "Re-publish the events Redis lacks, under their own event ids (signed and sealed again with the keys given).")
    var repair = false
    @OptionGroup var keys: KeyOptions

    func run() async throws {
        var flags = keys.layer
        (flags.postgres, flags.redis) = (postgres, redis)
        let settings = try global.settings(flags)
        if let kafka { return try await reconcileMirror(kafka: kafka, settings: settings) }
        let postgresText = try settings.requirePostgres()
        let redisText = try settings.requireRedis()
        guard let since else { throw ValidationError("--since is needed to compare with the archive") }
        guard let start = Timestamp(rfc3339: since) else { throw ValidationError("--since must be an RFC 3339 time") }
        let end = try until.map { text in
            guard let time = Timestamp(rfc3339: text) else { throw ValidationError("--until must be an RFC 3339 time") }
            return time
        } ?? Timestamp.now()
        var logger = Logger(label: "switchyard")
        logger.logLevel = .warning
        let (signingKeys, encryptionKeys) = try KeyOptions.rings(settings)
        let engine = try EngineSettings(redisURL: redisText, redisCAFile: settings.redisCA, failFast: true).makeRedisEngine(logger: logger)
        let postgresClient = PostgresClient(configuration: try PostgresURL(postgresText).clientConfiguration, backgroundLogger: logger)
        // Repairs are publishes: audited in switchyard.audit, written before the command exits.
        let audit = AuditTrail(sink: PostgresAuditSink(client: postgresClient, logger: logger), logger: logger)
        let router = try makeRouter(
            on: engine, contractsDirectory: settings.contracts,
            configuration: RouterConfiguration(
                source: "switchyard-reconcile", enforcesRateLimits: false, allowsUnknownChannels: true, signingKeys: signingKeys,
                encryptionKeys: encryptionKeys, audit: audit),
            logger: logger)
        let missing = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await postgresClient.run() }
            group.addTask { try await engine.run() }
            defer { group.cancelAll() }
            let reconciler = Reconciler(archive: Archive(client: postgresClient, logger: logger), router: router)
            let channels: [ChannelName]
            if let channel {
                channels = [try ChannelName(channel)]
            } else {
                channels = try await reconciler.archivedChannels(from: start, to: end)
            }
            var missing = 0
            for channel in channels {
                let report = try await reconciler.compare(channel, from: start, to: end)
                var line: JSONObject = [
                    "channel": .string(channel.rawValue), "matched": .int(Int64(report.matched)), "trimmed": .int(Int64(report.trimmed)),
                    "missing_in_redis": .array(report.missingInEngine.map { .string($0.eventID.description) }),
                    "missing_in_archive": .array(report.missingInArchive.map { .string($0.eventID.description) }),
                ]
                if repair {
                    let receipts = try await reconciler.repair(report) { ids, channel in try await engine.forgetDedupMarks(ids, on: channel) }
                    line["repaired"] = .array(receipts.filter { !$0.duplicate }.map { .string($0.eventID.description) })
                } else {
                    missing += report.missingInEngine.count + report.missingInArchive.count
                }
                print(JSONValue.object(line).serialized())
            }
            try await audit.flush()
            return missing
        }
        if missing > 0 { throw ExitCode(1) }
    }

    /// Compares each channel of Redis with its Kafka topic, and repairs Kafka with `--repair`.
    private func reconcileMirror(kafka: String, settings: ServerSettings) async throws {
        if since != nil || until != nil { throw ValidationError("--since and --until apply to the archive; with --kafka every retained event is compared") }
        let (redisEngine, kafkaEngine) = try dualWriteEngines(settings, kafka: kafka)
        let differing = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await redisEngine.run() }
            defer { group.cancelAll() }
            let reconciler = MirrorReconciler(primary: redisEngine, mirror: kafkaEngine)
            let channels: [ChannelName]
            if let channel {
                channels = [try ChannelName(channel)]
            } else {
                channels = try await redisEngine.channels(matching: [try ChannelPattern("*")])
            }
            var differing = 0
            for channel in channels {
                var report = try await reconciler.compare(channel)
                var line: JSONObject = [
                    "channel": .string(channel.rawValue), "redis_last": .int(report.primaryLast), "kafka_last": .int(report.mirrorLast),
                    "missing_in_kafka": .int(Int64(report.missing)), "lost": .int(Int64(report.lost)),
                    "mismatched": .array(report.mismatched.map { .int($0) }),
                ]
                if repair, report.missing > 0, report.lost == 0 {
                    line["repaired"] = .int(Int64(try await reconciler.repair(report)))
                    report = try await reconciler.compare(channel)
                }
                if !report.isInSync { differing += 1 }
                line["in_sync"] = .bool(report.isInSync)
                print(JSONValue.object(line).serialized())
            }
            return differing
        }
        if differing > 0 { throw ExitCode(1) }
    }
}
