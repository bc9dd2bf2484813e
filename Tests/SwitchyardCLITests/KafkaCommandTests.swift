import Foundation
import JSONSchema
import KafkaClient
import Logging
import RedisTestSupport
import Switchyard
import SwitchyardKafka
import Synchronization
import Testing

/// `serve --kafka`, `serve --redis … --mirror`, and `reconcile --kafka`, as a user runs them.
@Suite struct KafkaCommandTests {
    let commands = ClientCommandTests()

    /// Runs `switchyard serve` with `engine` (the engine flags) and an API key for `clitest:*`, until `body` returns.
    func withServer(_ engine: [String], _ body: @escaping @Sendable (String) async throws -> Void) async throws {
        try await RedisServerGate.shared.shared {
            let folder = NSTemporaryDirectory() + "cli-kafka-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: folder) }
            let config: JSONValue = [
                "allow_unknown_channels": true,
                "auth": ["api_keys": [["name": "cli-tests", "key": .string(ClientCommandTests.apiKey), "grants": ["publish": ["clitest:*"], "subscribe": ["clitest:*"]]]]],
            ]
            try config.serialized().write(toFile: folder + "/switchyard.json", atomically: true, encoding: .utf8)
            let port = try freeLoopbackPort()
            let server = Process()
            server.executableURL = URL(fileURLWithPath: CLITests.binary)
            server.arguments = ["serve", "--port", String(port), "--config", folder + "/switchyard.json"] + engine
            server.environment = ProcessInfo.processInfo.environment.filter { $0.key != "POSTGRES_URL" && $0.key != "REDIS_URL" }
            server.standardOutput = FileHandle.nullDevice
            server.standardError = FileHandle.nullDevice
            try server.run()
            try await terminating(server) {
                let url = "http://127.0.0.1:\(port)"
                try #require(try await ClientCommandTests.answersHealth(url, while: server), "switchyard serve did not come up on \(url)")
                try await body(url)
            }
        }
    }

    @Test(.needs(.kafka)) func serveRunsOnKafka() async throws {
        let kafka = try TestEnvironment.value("KAFKA_URL")
        try await withServer(["--kafka", kafka]) { server in
            let channel = ClientCommandTests.channel()
            let auth = ["--server", server, "--token", ClientCommandTests.apiKey]
            for n in 1...3 {
                let published = try await commands.run(["publish"] + auth + [channel, #"{"n":\#(n)}"#])
                #expect(published.status == 0, "\(published.stdout)\(published.stderr)")
                #expect(try commands.json(published)["sequence_number"] == .int(Int64(n)))
            }
            let replay = try await commands.run(["replay"] + auth + [channel])
            #expect(replay.status == 0, "\(replay.stderr)")
            #expect(replay.stdout.split(separator: "\n").map { $0.prefix(2) } == ["1\t", "2\t", "3\t"])

            // Over the gateway's WebSocket: resumed from sequence 2, then live as publishes go on.
            async let tail = commands.run(["tail"] + auth + [channel, "--since", "2", "--count", "4", "--json"])
            try await Task.sleep(for: .seconds(1))
            for n in 4...5 { _ = try await commands.run(["publish"] + auth + [channel, #"{"n":\#(n)}"#]) }
            let followed = try await tail
            #expect(followed.status == 0, "\(followed.stderr)")
            let envelopes = try followed.stdout.split(separator: "\n").map { try Envelope(decoding: String($0)) }
            #expect(envelopes.map(\.sequenceNumber) == [2, 3, 4, 5])
        }
    }

    @Test(.needs(.kafka, .postgres)) func strictModeRelaysTheOutboxToKafka() async throws {
        let kafka = try TestEnvironment.value("KAFKA_URL")
        let postgres = try TestEnvironment.value("POSTGRES_URL")
        let channel = ClientCommandTests.channel()
        try await withServer(["--kafka", kafka, "--postgres", postgres]) { server in
            let auth = ["--server", server, "--token", ClientCommandTests.apiKey]
            for n in 1...2 {
                let published = try await commands.run(["publish"] + auth + [channel, #"{"n":\#(n)}"#])
                #expect(published.status == 0, "\(published.stdout)\(published.stderr)")
            }
            // Committed to the outbox first; the relay then stores each on Kafka, in order.
            let relayed = try await eventually(timeout: .seconds(30), every: .milliseconds(100)) {
                try await commands.run(["replay"] + auth + [channel]).stdout.split(separator: "\n").count == 2
            }
            #expect(relayed)
        }
        let engine = try KafkaEngine(configuration: .init(kafka: try KafkaConfiguration(url: kafka)), logger: Logger(label: "test"))
        let stored = try await engine.read(try ChannelName(channel), from: .beginning, limit: 10)
        #expect(stored.map(\.envelope.sequenceNumber) == [1, 2])
        #expect(stored.map { $0.envelope.data["n"] } == [1, 2])
    }

    @Test(.needs(.kafka, .redis)) func serveMirrorsRedisToKafkaAndReconcileRepairs() async throws {
        let kafka = try TestEnvironment.value("KAFKA_URL")
        let redis = try TestEnvironment.value("REDIS_URL")
        let channel = ClientCommandTests.channel()
        try await withServer(["--redis", redis, "--mirror", kafka, "--mirror-ack", "both"]) { server in
            let auth = ["--server", server, "--token", ClientCommandTests.apiKey]
            for n in 1...3 {
                let published = try await commands.run(["publish"] + auth + [channel, #"{"n":\#(n)}"#])
                #expect(published.status == 0, "\(published.stdout)\(published.stderr)")
            }
        }
        let inSync = try await commands.run(["reconcile", "--kafka", kafka, "--redis", redis, "--channel", channel])
        #expect(inSync.status == 0, "\(inSync.stdout)\(inSync.stderr)")
        #expect(try commands.json(inSync)["kafka_last"] == 3)
        #expect(try commands.json(inSync)["in_sync"] == true)

        // Two publishes straight to Redis, with no dual-write running: Kafka lacks them.
        for n in 4...5 {
            let published = try await commands.run(["publish", "--redis", redis, "--allow-unknown-channels", channel, #"{"n":\#(n)}"#])
            #expect(published.status == 0, "\(published.stdout)\(published.stderr)")
        }
        let behind = try await commands.run(["reconcile", "--kafka", kafka, "--redis", redis, "--channel", channel])
        #expect(behind.status == 1)
        #expect(try commands.json(behind)["missing_in_kafka"] == 2)
        let repaired = try await commands.run(["reconcile", "--kafka", kafka, "--redis", redis, "--channel", channel, "--repair"])
        #expect(repaired.status == 0, "\(repaired.stdout)\(repaired.stderr)")
        #expect(try commands.json(repaired)["repaired"] == 2)
        #expect(try commands.json(repaired)["in_sync"] == true)
    }

    @Test(.needs(.kafka, .redis)) func handoverStartsTheGroupOnKafkaWhereItLeftOffOnRedis() async throws {
        let kafka = try TestEnvironment.value("KAFKA_URL")
        let redis = try TestEnvironment.value("REDIS_URL")
        let channel = ClientCommandTests.channel()
        let streamIDs = Mutex<[String]>([])
        try await withServer(["--redis", redis, "--mirror", kafka, "--mirror-ack", "both"]) { server in
            for n in 1...5 {
                let published = try await commands.run(["publish", "--server", server, "--token", ClientCommandTests.apiKey, channel, #"{"n":\#(n)}"#])
                #expect(published.status == 0, "\(published.stdout)\(published.stderr)")
                let id = try #require(try commands.json(published)["stream_id"]?.stringValue)
                streamIDs.withLock { $0.append(id) }
            }
        }
        // On Redis, group "ledger" was delivered 1 to 3 and acked 1: 2 and 3 are pending, 4 and 5 undelivered.
        try await ClientCommandTests.redisCLI(["XGROUP", "CREATE", "stream:{\(channel)}", "ledger", "0"])
        try await ClientCommandTests.redisCLI(["XREADGROUP", "GROUP", "ledger", "worker", "COUNT", "3", "STREAMS", "stream:{\(channel)}", ">"])
        try await ClientCommandTests.redisCLI(["XACK", "stream:{\(channel)}", "ledger", streamIDs.withLock { $0[0] }])

        // A Kafka consumer group of the service's own: committed at the offset of sequence 2.
        let own = try await commands.run(["handover", "ledger", "--redis", redis, "--kafka", kafka, "--channel", channel, "--kafka-group", "ledger-own"])
        #expect(own.status == 0, "\(own.stdout)\(own.stderr)")
        #expect(try commands.json(own)["first_sequence"] == 2)
        #expect(try commands.json(own)["offsets"] == ["0": 1])
        let configuration = try KafkaConfiguration(url: kafka)
        let topic = KafkaTopicNames().events(try ChannelName(channel), policy: nil)
        let consumer = try KafkaConsumer(configuration: configuration, groupID: "ledger-own")
        let committed = try await consumer.committed([KafkaTopicPartition(topic: topic, partition: 0)], timeout: .seconds(10))
        await consumer.close()
        #expect(committed[KafkaTopicPartition(topic: topic, partition: 0)] == 1)

        // The Kafka engine's own group: a Kafka engine started afterwards delivers 2 to 5.
        let engineGroup = try await commands.run(["handover", "ledger", "--redis", redis, "--kafka", kafka, "--channel", channel])
        #expect(engineGroup.status == 0, "\(engineGroup.stdout)\(engineGroup.stderr)")
        #expect(try commands.json(engineGroup)["kafka_group"] == "switchyard.ledger")
        let engine = try KafkaEngine(configuration: .init(kafka: configuration), logger: Logger(label: "test"))
        let delivered = try await engine.readGroup(GroupReadRequest(group: "ledger", consumer: "c", channels: [try ChannelName(channel)], count: 10, block: nil))
        #expect(delivered.map(\.envelope.sequenceNumber) == [2, 3, 4, 5])
        // Moved once: a second move leaves the group where it stands on Kafka, and says so.
        let again = try await commands.run(["handover", "ledger", "--redis", redis, "--kafka", kafka, "--channel", channel])
        #expect(again.status == 1 && again.stderr.contains("already exists"), "\(again.stdout)\(again.stderr)")
    }

    @Test func engineFlagsThatDoNotGoTogetherAreRefused() async throws {
        let both = try await commands.run(["serve", "--redis", "redis://127.0.0.1:1", "--kafka", "kafka://127.0.0.1:1"])
        #expect(both.status == 64 && both.stderr.contains("choose one engine"), "\(both.stderr)")
        let ack = try await commands.run(["serve", "--mirror-ack", "both"])
        #expect(ack.status == 64 && ack.stderr.contains("--mirror-ack needs --mirror"), "\(ack.stderr)")
        let mode = try await commands.run(["serve", "--mirror", "kafka://127.0.0.1:1", "--mirror-ack", "sometimes"])
        #expect(mode.status == 64, "\(mode.stderr)")
        let noSince = try await commands.run(["reconcile", "--redis", "redis://127.0.0.1:1", "--postgres", "postgres://x@127.0.0.1:1/x"])
        #expect(noSince.status != 0 && noSince.stderr.contains("--since"), "\(noSince.stderr)")
    }
}
