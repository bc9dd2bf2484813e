import ArgumentParser
import Foundation
import JSONSchema
import Logging
import PostgresNIO
import RedisClient
import ServiceLifecycle
import Switchyard
import SwitchyardPostgres
import SwitchyardRedis
import SwitchyardServer
import Synchronization

/// `switchyard-chaos-worker`: the publisher and the consumer that `scripts/chaos` runs, kills and
/// checks (docs/chaos.md). A tool of the test suite, built beside the product and not part of it. Each is a Swift service built on the library as any service would be:
/// a ``Router`` on the Redis engine, with a spool, consumer groups, the PostgreSQL inbox.
@main
struct ChaosWorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchyard-chaos-worker",
        abstract: "The publisher and consumer processes of the chaos suite (scripts/chaos).",
        subcommands: [ChaosPublishCommand.self, ChaosConsumeCommand.self])
}

/// Options both workers take.
struct ChaosRedisOptions: ParsableArguments {
    @Option(help: ArgumentHelp("A Redis URL (default: REDIS_URL).", valueName: "URL"))
    var redis: String?
    @Option(help: "Seconds to wait for a Redis connection.")
    var connectTimeout: Double = 10
    @Option(help: "Seconds to wait for a Redis reply before Redis counts as unreachable.")
    var commandTimeout: Double = 30

    func settings() throws -> EngineSettings {
        guard let url = redis ?? EnvironmentVariables()["REDIS_URL"] else { throw ValidationError("give --redis URL or set REDIS_URL") }
        return EngineSettings(
            redisURL: url, connectTimeout: .milliseconds(Int64(connectTimeout * 1000)), commandTimeout: .milliseconds(Int64(commandTimeout * 1000)))
    }

    static func logger(_ label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = .warning
        return logger
    }
}

/// A value behind a lock, shared by concurrent tasks.
final class Guarded<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) { mutex = Mutex(value) }

    func withLock<Result: Sendable>(_ body: (inout Value) -> Result) -> Result { mutex.withLock { body(&$0) } }
}

/// Appends lines to a file, one `write` per call on a descriptor opened with `O_APPEND`, so that
/// several processes may share the file and a process killed with SIGKILL leaves only whole lines
/// behind (the kernel keeps what `write` returned for).
final class LineLog: Sendable {
    private let handle: Mutex<FileHandle?>

    init(path: String?) throws {
        guard let path else {
            handle = Mutex(nil)
            return
        }
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw ValidationError("cannot write \(path): \(String(cString: strerror(errno)))") }
        handle = Mutex(FileHandle(fileDescriptor: descriptor, closeOnDealloc: true))
    }

    func write(_ lines: [String]) {
        guard !lines.isEmpty else { return }
        let data = Data((lines.joined(separator: "\n") + "\n").utf8)
        handle.withLock { $0?.write(data) }
    }
}

/// `chaos-worker publish`: publishes `--count` events over `--channels` at `--rate` events per
/// second, each channel in order from one task, and records every acknowledged publish.
struct ChaosPublishCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Publish numbered events at a rate; write each acknowledged one to --acked; print a JSON summary.",
        discussion: """
            Event k (0-based) goes to channel k mod C with payload {"n": k, "publisher": SOURCE} (and \
            "pad" with --pad). An \
            acknowledged publish is one the router returned a receipt for, stored or spooled; each \
            is written to --acked as `N EVENT_ID CHANNEL SEQUENCE` (sequence 0: spooled). Refused \
            publishes are counted by error code. After the last publish the worker waits, at most \
            --drain-timeout seconds, for the spool to empty, then prints one JSON line: sent, acked, \
            spooled, refused, errors, spool_depth, seconds.
            """)

    @OptionGroup var redis: ChaosRedisOptions
    @Option(help: ArgumentHelp("Channel names, comma-separated.", valueName: "C1,C2,…"))
    var channels: String
    @Option(help: "Events to publish.")
    var count: Int
    @Option(help: "Events per second over all channels; 0 publishes as fast as Redis takes them.")
    var rate: Double = 0
    @Option(help: "Events per publish call (one batch per channel and call).")
    var batch = 1
    @Option(help: "The envelope source, and the rate limit's key.")
    var source = "chaos-publisher"
    @Option(help: ArgumentHelp("The spool file: publishes are kept there while Redis is unreachable.", valueName: "FILE"))
    var spool: String?
    @Option(help: ArgumentHelp("Where acknowledged publishes are appended.", valueName: "FILE"))
    var acked: String?
    @Option(help: "Seconds to wait for the spool to drain after the last publish.")
    var drainTimeout: Double = 120
    @Option(help: "Characters of padding in each payload (field `pad`), to make events larger.")
    var pad = 0
    @Flag(help: "Do not take the channels' rate limits.")
    var noRateLimits = false
    @Option(help: ArgumentHelp("When a publish counts as acknowledged: primary or replicated (the channels' acknowledge policy).", valueName: "MODE"))
    var acknowledge: String?

    func validate() throws {
        if count < 0 { throw ValidationError("--count must be 0 or more") }
        if batch < 1 { throw ValidationError("--batch must be 1 or more") }
        if rate < 0 { throw ValidationError("--rate must be 0 or more") }
        if pad < 0 { throw ValidationError("--pad must be 0 or more") }
        if names.isEmpty { throw ValidationError("--channels names no channel") }
        if acknowledge != nil, ChannelPolicy.Acknowledge.named(acknowledge) == nil {
            throw ValidationError("--acknowledge is primary or replicated")
        }
    }

    var names: [String] { channels.split(separator: ",").map { String($0) }.filter { !$0.isEmpty } }

    func run() async throws {
        let logger = ChaosRedisOptions.logger("chaos-publisher")
        let channelNames = try names.map { try ChannelName($0) }
        var settings = try redis.settings()
        settings.spoolFile = spool
        let engine = try settings.makeRedisEngine(logger: logger)
        var overrides: [RouterConfiguration.PolicyOverride] = []
        if let mode = ChannelPolicy.Acknowledge.named(acknowledge) {
            for channel in channelNames {
                var policy = ChannelPolicy.defaults(for: channel.rawValue)
                policy.acknowledge = mode
                overrides.append(.init(try ChannelPattern(channel.rawValue), policy))
            }
        }
        let router = try makeRouter(
            on: engine,
            configuration: RouterConfiguration(
                source: source, enforcesRateLimits: !noRateLimits, allowsUnknownChannels: true, policyOverrides: overrides),
            logger: logger)
        let log = try LineLog(path: acked)
        let tally = Guarded(PublishTally())
        let started = ContinuousClock.now
        let (count, batch, rate, source) = (count, batch, rate, source)
        let padding: JSONObject = pad > 0 ? ["pad": .string(String(repeating: "x", count: pad))] : [:]
        let drainLimit = Duration.milliseconds(Int64(drainTimeout * 1000))
        let depth: Int = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await router.run() }
            defer { group.cancelAll() }
            await withTaskGroup(of: Void.self) { publishers in
                for (index, channel) in channelNames.enumerated() {
                    publishers.addTask {
                        let numbers = Array(stride(from: index, to: count, by: channelNames.count))
                        let interval = rate > 0 ? 1.0 / (rate / Double(channelNames.count)) : 0
                        var position = 0
                        while position < numbers.count {
                            let chunk = Array(numbers[position..<min(position + batch, numbers.count)])
                            if interval > 0 {
                                let due = started + .milliseconds(Int64(Double(position) * interval * 1000))
                                if due > .now { try? await Task.sleep(until: due, clock: .continuous) }
                            }
                            position += chunk.count
                            let requests = chunk.map { number in
                                var payload: JSONObject = ["n": .int(Int64(number)), "publisher": .string(source)]
                                for (key, value) in padding.members { payload[key] = value }
                                return PublishRequest(channel: channel, payload: .object(payload))
                            }
                            do {
                                let receipts = try await router.publish(requests)
                                log.write(zip(chunk, receipts).map { "\($0) \($1.eventID) \($1.channel) \($1.sequenceNumber ?? 0)" })
                                tally.withLock { $0.acked(receipts) }
                            } catch {
                                let code = (error as? SwitchyardError)?.code.rawValue ?? "error"
                                tally.withLock { $0.refused(chunk.count, code: code) }
                            }
                        }
                    }
                }
            }
            let deadline = ContinuousClock.now + drainLimit
            var depth = try await engine.spoolDepth
            while depth > 0, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
                depth = try await engine.spoolDepth
            }
            return depth
        }
        let result = tally.withLock { $0 }
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let summary: JSONValue = [
            "sent": .int(Int64(count)), "acked": .int(Int64(result.acked)), "spooled": .int(Int64(result.spooled)),
            "refused": .int(Int64(result.refused)), "errors": .object(JSONObject(result.errors.sorted { $0.key < $1.key }.map { (key: $0.key, value: JSONValue.int(Int64($0.value))) })),
            "spool_depth": .int(Int64(depth)), "seconds": .double(seconds),
        ]
        print(summary.serialized())
    }
}

/// What a publisher counted.
struct PublishTally: Sendable {
    var acked = 0
    var spooled = 0
    var refused = 0
    var errors: [String: Int] = [:]

    mutating func acked(_ receipts: [PublishReceipt]) {
        acked += receipts.count
        spooled += receipts.filter(\.isSpooled).count
    }

    mutating func refused(_ count: Int, code: String) {
        refused += count
        errors[code, default: 0] += count
    }
}

/// `chaos-worker consume`: one consumer of a group until SIGTERM or SIGINT; with `--postgres`,
/// each event's effect (a row of `chaos_effects`) commits with its inbox row.
struct ChaosConsumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consume",
        abstract: "Consume a group; with --postgres, effects exactly once through the inbox; print a JSON summary on SIGTERM.",
        discussion: """
            Every handler call is appended to --deliveries as `EVENT_ID CHANNEL SEQUENCE` before the \
            event is handled, so redeliveries show as repeated ids. With --postgres, the handler \
            inserts (group, event_id, channel, sequence_number, consumer) into the table chaos_effects \
            in the inbox's transaction: a row per effect, with no key, so an effect that happened twice \
            shows as two rows. On SIGTERM or SIGINT it stops and prints one JSON line: delivered, \
            effects, skipped, and the delivery latency (now minus the envelope's timestamp) in ms at \
            p50, p99, p99.9 and max.
            """)

    @OptionGroup var redis: ChaosRedisOptions
    @Option(help: "The consumer group.")
    var group: String
    @Option(name: .customLong("pattern"), help: ArgumentHelp("A channel name or glob to consume (repeatable).", valueName: "PATTERN"))
    var patterns: [String]
    @Option(help: "This consumer's name within the group (default: a unique one).")
    var consumer: String?
    @Option(help: ArgumentHelp("A PostgreSQL URL: effects and the inbox go there.", valueName: "URL"))
    var postgres: String?
    @Option(help: ArgumentHelp("Where every delivery is appended.", valueName: "FILE"))
    var deliveries: String?
    @Option(help: "Entries per read.")
    var batchSize = 64
    @Option(help: "Channels handled at once.")
    var concurrency = 4
    @Option(help: "Deliveries after which an event is dead-lettered.")
    var maxDeliveries = 5
    @Option(help: "Seconds an entry stays pending for a consumer before another may claim it.")
    var visibilityTimeout: Double = 30

    func validate() throws {
        if patterns.isEmpty { throw ValidationError("give at least one --pattern") }
        if batchSize < 1 || concurrency < 1 || maxDeliveries < 1 { throw ValidationError("--batch-size, --concurrency and --max-deliveries must be 1 or more") }
        if visibilityTimeout <= 0 { throw ValidationError("--visibility-timeout must be above 0") }
    }

    func run() async throws {
        let logger = ChaosRedisOptions.logger("chaos-consumer")
        let router = try makeRouter(
            engine: try redis.settings(), configuration: RouterConfiguration(source: "chaos-consumer", allowsUnknownChannels: true), logger: logger)
        let name = consumer ?? "chaos-\(ProcessInfo.processInfo.processIdentifier)"
        let options = ConsumerOptions(
            batchSize: batchSize, concurrency: concurrency, maxDeliveries: maxDeliveries,
            visibilityTimeout: .milliseconds(Int64(visibilityTimeout * 1000)), claimInterval: .milliseconds(500))
        let consumption = ChaosConsumption(
            router: router, group: group, patterns: try patterns.map { try ChannelPattern($0) }, consumer: name, options: options,
            log: try LineLog(path: deliveries))
        var services: [any Service] = [router]
        if let postgres {
            let client = PostgresClient(configuration: try PostgresURL(postgres).clientConfiguration, backgroundLogger: logger)
            services.append(client)
            consumption.inbox = Inbox(client: client, logger: logger)
        }
        services.append(consumption)
        let serviceGroup = ServiceGroup(
            configuration: ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await serviceGroup.run()
        print(consumption.summary().serialized())
    }
}

/// The consumer service of `chaos-worker consume`.
final class ChaosConsumption: Service, Sendable {
    let router: Router
    let group: String
    let patterns: [ChannelPattern]
    let consumer: String
    let options: ConsumerOptions
    let log: LineLog
    private let inboxBox = Mutex<Inbox?>(nil)
    private let stats = Guarded(ConsumeStats())

    var inbox: Inbox? {
        get { inboxBox.withLock { $0 } }
        set { inboxBox.withLock { $0 = newValue } }
    }

    init(router: Router, group: String, patterns: [ChannelPattern], consumer: String, options: ConsumerOptions, log: LineLog) {
        self.router = router
        self.group = group
        self.patterns = patterns
        self.consumer = consumer
        self.options = options
        self.log = log
    }

    func run() async throws {
        let inbox = self.inbox
        if let inbox {
            try await Migrations.apply(client: inbox.client, logger: Logger(label: "chaos-consumer"))
            try await inbox.client.query("""
                CREATE TABLE IF NOT EXISTS chaos_effects (
                    consumer_group text NOT NULL, event_id uuid NOT NULL, channel text NOT NULL,
                    sequence_number bigint NOT NULL, consumer text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
                """)
        }
        let (group, consumer, log, stats) = (group, consumer, log, stats)
        try await router.consume(group: group, patterns: patterns, consumer: consumer, options: options) { envelope in
            let latency = Timestamp.now().unixMilliseconds - envelope.timestamp.unixMilliseconds
            log.write(["\(envelope.eventID) \(envelope.channel) \(envelope.sequenceNumber)"])
            stats.withLock { $0.delivered(latencyMilliseconds: latency) }
            guard let inbox else { return }
            let applied = try await inbox.process(envelope, group: group) { envelope, connection in
                try await connection.query(
                    """
                    INSERT INTO chaos_effects (consumer_group, event_id, channel, sequence_number, consumer)
                    VALUES (\(group), \(envelope.eventID.description)::uuid, \(envelope.channel.rawValue), \(envelope.sequenceNumber), \(consumer))
                    """, logger: Logger(label: "chaos-consumer"))
            }
            stats.withLock { if applied { $0.effects += 1 } else { $0.skipped += 1 } }
        }
    }

    func summary() -> JSONValue {
        stats.withLock { $0.summary }
    }
}

/// Deliveries, effects and a latency histogram in 1 ms buckets (fixed memory however long it runs).
struct ConsumeStats: Sendable {
    var deliveries = 0
    var effects = 0
    var skipped = 0
    var buckets = [Int](repeating: 0, count: 60_001)
    var maximum: Int64 = 0

    mutating func delivered(latencyMilliseconds: Int64) {
        deliveries += 1
        buckets[Int(min(max(latencyMilliseconds, 0), Int64(buckets.count - 1)))] += 1
        maximum = max(maximum, latencyMilliseconds)
    }

    func percentile(_ fraction: Double) -> Int {
        guard deliveries > 0 else { return 0 }
        let rank = Int((Double(deliveries) * fraction).rounded(.up))
        var seen = 0
        for (milliseconds, count) in buckets.enumerated() {
            seen += count
            if seen >= rank { return milliseconds }
        }
        return buckets.count - 1
    }

    var summary: JSONValue {
        [
            "delivered": .int(Int64(deliveries)), "effects": .int(Int64(effects)), "skipped": .int(Int64(skipped)),
            "latency_ms": [
                "p50": .int(Int64(percentile(0.5))), "p99": .int(Int64(percentile(0.99))), "p999": .int(Int64(percentile(0.999))),
                "max": .int(maximum),
            ],
        ]
    }
}
