import ArgumentParser
import Foundation
import JSONSchema
import Logging
import Switchyard
import SwitchyardKafka
import SwitchyardRedis
import SwitchyardServer

/// `switchyard handover GROUP`: moves a consumer group from Redis to Kafka where it left off.
struct HandoverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "handover",
        abstract: "Move a consumer group from Redis to Kafka: it starts on Kafka at the first event it had not finished on Redis.",
        discussion: """
            Run it once the group's consumers on Redis have stopped and before they start on Kafka: it claims \
            the group's pending entries on Redis to read their sequence numbers. For each channel it commits, \
            per partition, the offset of that first unfinished event to the Kafka consumer group (switchyard.GROUP, \
            or --kafka-group for consumers that read the topics with their own Kafka client) and records the \
            group's start for the Kafka engine. Events after it that the group had already acked on Redis are \
            delivered again: consume through the inbox so their effects happen once. Prints one JSON object per \
            channel. Exit codes: 0 moved, 1 refused, 64 usage.
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The consumer group.")
    var group: String
    @Option(help: ArgumentHelp("A Redis URL (default: REDIS_URL).", valueName: "URL"))
    var redis: String?
    @Option(help: ArgumentHelp("The Kafka the dual-write (serve --mirror) writes to.", valueName: "URL"))
    var kafka: String
    @Option(help: ArgumentHelp("A channel name or glob the group reads (repeatable; default: every Redis channel where the group exists).", valueName: "CHANNEL"))
    var channel: [String] = []
    @Option(help: ArgumentHelp("The Kafka consumer group to commit for, when consumers read the topics with a Kafka client of their own (default: switchyard.GROUP, the Kafka engine's).", valueName: "NAME"))
    var kafkaGroup: String?

    func run() async throws {
        var flags = ServerSettings()
        flags.redis = redis
        let settings = try global.settings(flags)
        let (redisEngine, kafkaEngine) = try dualWriteEngines(settings, kafka: kafka)
        let patterns = try (channel.isEmpty ? ["*"] : channel).map { try ChannelPattern($0) }
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await redisEngine.run() }
            defer { tasks.cancelAll() }
            for name in try await redisEngine.channels(matching: patterns) {
                do {
                    _ = try await redisEngine.groupInfo(group, on: name)
                } catch let error as SwitchyardError where error.code == .groupNotFound {
                    continue
                }
                let first = try await GroupHandover.firstUnfinished(group: group, on: name, in: redisEngine)
                let offsets = try await kafkaEngine.offsets(fromSequence: first, on: name)
                let target = kafkaGroup ?? kafkaEngine.configuration.topics.consumerGroup(group)
                if kafkaGroup == nil { try await kafkaEngine.createGroup(group, on: name, afterSequence: first - 1) }
                try await kafkaEngine.commit(offsets, on: name, forKafkaGroup: target)
                let line: JSONValue = [
                    "channel": .string(name.rawValue), "group": .string(group), "first_sequence": .int(first), "kafka_group": .string(target),
                    "topic": .string(kafkaEngine.eventTopic(name)),
                    "offsets": .object(JSONObject(offsets.sorted { $0.key < $1.key }.map { (key: String($0.key), value: JSONValue.int($0.value)) })),
                ]
                print(line.serialized())
            }
        }
    }
}

/// The two engines of a dual-write, for the commands that compare or move between them: Redis
/// (failing fast when it is unreachable) and Kafka, with the settings' contracts.
func dualWriteEngines(_ settings: ServerSettings, kafka: String) throws -> (RedisEngine, KafkaEngine) {
    let redisText = try settings.requireRedis()
    var logger = Logger(label: "switchyard")
    logger.logLevel = .warning
    let contracts = try settings.contracts.map { try ContractRegistry.load(from: $0) } ?? ContractRegistry.shipped()
    let redisEngine = try EngineSettings(redisURL: redisText, redisCAFile: settings.redisCA, failFast: true).makeRedisEngine(logger: logger)
    return (redisEngine, try EngineSettings().makeKafkaEngine(url: kafka, contracts: contracts, logger: logger))
}
