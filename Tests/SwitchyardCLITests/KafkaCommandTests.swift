import Foundation
import JSONSchema
import RedisTestSupport
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
        }
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
