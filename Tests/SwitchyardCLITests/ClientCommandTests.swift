import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import JSONSchema
import RedisTestSupport
import Testing

/// `publish`, `replay`, `lag` and `dlq` through the built binary: against a running `switchyard
/// serve` (on the Redis `scripts/test` starts, with an API key), and straight on Redis.
@Suite struct ClientCommandTests {
    static let apiKey = "cli-key-7d2f90"

    func run(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]) async throws -> CLITests.Result {
        var merged = ProcessInfo.processInfo.environment
        merged["SWITCHYARD_TOKEN"] = nil
        merged["SWITCHYARD_SERVER"] = nil
        for (name, value) in environment { merged[name] = value }
        return try await runProgram(CLITests.binary, arguments, stdin: stdin, environment: merged)
    }

    func json(_ result: CLITests.Result) throws -> JSONValue {
        try JSONValue(parsing: result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    static func channel() -> String { "clitest:\(UUID().uuidString.prefix(8).lowercased())" }

    static func redisCLI(_ arguments: [String]) async throws {
        let result = try await runProgram("/usr/bin/env", ["redis-cli", "-u", try TestEnvironment.value("REDIS_URL")] + arguments)
        #expect(result.status == 0)
    }

    /// A free loopback port (the kernel's pick, released for the server to take).
    static func freePort() throws -> Int { try freeLoopbackPort() }

    /// Whether the server at `url` answers `/healthz` with 200 within a minute, while `server` runs.
    static func answersHealth(_ url: String, while server: Process) async throws -> Bool {
        var healthy = false
        _ = try await eventually(timeout: .seconds(60), every: .milliseconds(250)) {
            if let (_, response) = try? await URLSession.shared.data(from: URL(string: url + "/healthz")!),
               (response as? HTTPURLResponse)?.statusCode == 200 {
                healthy = true
            }
            return healthy || !server.isRunning
        }
        return healthy
    }

    /// Runs `switchyard serve` on Redis with an API key for `clitest:*`, until `body` returns.
    /// Runs `switchyard serve` on the Redis of `redisVariable` (`REDIS_URL` by default) for `body`, which gets its URL.
    func withServer(redisVariable: String = "REDIS_URL", _ body: @escaping @Sendable (String) async throws -> Void) async throws {
        let redis = try TestEnvironment.value(redisVariable)
        try await RedisServerGate.shared.shared {
            let folder = NSTemporaryDirectory() + "cli-serve-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: folder) }
            let config: JSONValue = [
                "allow_unknown_channels": true,
                "auth": ["api_keys": [["name": "cli-tests", "key": .string(Self.apiKey), "grants": ["publish": ["clitest:*"], "subscribe": ["clitest:*"]]]]],
            ]
            try config.serialized().write(toFile: folder + "/switchyard.json", atomically: true, encoding: .utf8)
            let port = try Self.freePort()
            let server = Process()
            server.executableURL = URL(fileURLWithPath: CLITests.binary)
            server.arguments = ["serve", "--port", String(port), "--redis", redis, "--config", folder + "/switchyard.json"]
            server.environment = ProcessInfo.processInfo.environment.filter { $0.key != "POSTGRES_URL" }
            server.standardOutput = FileHandle.nullDevice
            server.standardError = FileHandle.nullDevice
            try server.run()
            try await terminating(server) {
                let url = "http://127.0.0.1:\(port)"
                try #require(try await Self.answersHealth(url, while: server), "switchyard serve did not come up on \(url)")
                try await body(url)
            }
        }
    }

    @Test(.needs(.redis)) func publishReplayLagAndDLQAgainstAServer() async throws {
        try await withServer { server in
            let channel = Self.channel()
            let auth = ["--server", server, "--token", Self.apiKey]
            let first = try await run(["publish"] + auth + [channel, #"{"n":1}"#])
            #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
            #expect(try json(first)["sequence_number"] == 1)
            let firstStreamID = try #require(try json(first)["stream_id"]?.stringValue)
            let eventID = "0193a2c4-7b1e-7c3a-9f1e-\(UUID().uuidString.suffix(12).lowercased())"
            let fromStdin = try await run(["publish", "--server", server, channel, "-", "--event-id", eventID], stdin: #"{"n":2}"#, environment: ["SWITCHYARD_TOKEN": Self.apiKey])
            #expect(fromStdin.status == 0, "\(fromStdin.stdout)\(fromStdin.stderr)")
            let file = NSTemporaryDirectory() + "cli-payload-" + UUID().uuidString + ".json"
            try #"{"n":2}"#.write(toFile: file, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: file) }
            let again = try await run(["publish"] + auth + [channel, file, "--event-id", eventID])
            #expect(again.status == 0)
            #expect(try json(again)["duplicate"] == true)

            let replay = try await run(["replay"] + auth + [channel])
            #expect(replay.status == 0, "\(replay.stderr)")
            let lines = replay.stdout.split(separator: "\n")
            #expect(lines.count == 2)
            #expect(lines.first?.hasPrefix("1\t") == true && lines.first?.hasSuffix(#"{"n":1}"#) == true)
            let envelopes = try await run(["replay"] + auth + [channel, "--json", "--since", "2", "--limit", "1"])
            let envelope = try JSONValue(parsing: envelopes.stdout.split(separator: "\n").first.map(String.init) ?? "")
            #expect(envelope["sequence_number"] == 2)
            #expect(envelope["source"] == "cli-tests")
            let firstEnvelope = try await JSONValue(parsing: try run(["replay"] + auth + [channel, "--json", "--limit", "1"]).stdout)
            #expect(firstEnvelope["sequence_number"] == 1)

            // Dead letters and a group, written the way the wire format says.
            try await Self.redisCLI(["XGROUP", "CREATE", "stream:{\(channel)}", "risk", "0"])
            try await Self.redisCLI(["XADD", "dlq:{\(channel)}", "*", "envelope", firstEnvelope.serialized(), "group", "risk",
                               "error", #"{"error_type":"handler_error","message":"boom","details":{}}"#, "deliveries", "5",
                               "failed_at", "2026-01-27T10:30:05.123Z", "stream_id", firstStreamID])
            let lag = try await run(["lag"] + auth + [channel])
            #expect(lag.status == 0, "\(lag.stderr)")
            #expect(lag.stdout.hasPrefix("CHANNEL"))
            #expect(lag.stdout.contains("\(channel)  risk"))
            let lagJSON = try await json(try run(["lag"] + auth + [channel, "--json"]))
            #expect(lagJSON["groups"]?.arrayValue?.first?["lag"] == 2)

            let list = try await run(["dlq", "list"] + auth + [channel])
            #expect(list.status == 0 && list.stdout.contains("boom"), "\(list.stdout)")
            let letters = try await json(try run(["dlq", "list"] + auth + [channel, "--json"]))
            let id = try #require(letters["dead_letters"]?.arrayValue?.first?["id"]?.stringValue)
            let requeue = try await run(["dlq", "requeue"] + auth + [channel, id])
            #expect(requeue.status == 0, "\(requeue.stderr)")
            #expect(try json(requeue)["found"] == 1)
            let drop = try await run(["dlq", "drop"] + auth + [channel, "--all"])
            #expect(try json(drop)["requested"] == 0)
        }
    }

    /// `switchyard serve` bootstraps the Prometheus backend, serves it without credentials, and
    /// publishes its own heartbeat at start-up.
    @Test(.needs(.redis)) func serveExposesMetricsAndPublishesItsHeartbeat() async throws {
        try await withServer { server in
            var text = ""
            _ = try await eventually {
                let (data, response) = try await URLSession.shared.data(from: URL(string: server + "/metrics")!)
                #expect((response as? HTTPURLResponse)?.statusCode == 200)
                text = String(decoding: data, as: UTF8.self)
                // The heartbeat is counted at start-up, the Redis gauge at the refresher's first pass.
                return text.contains(#"switchyard_publishes_total{channel="system:health_check"} "#) && text.contains("\nswitchyard_redis_up ")
            }
            let lines = text.split(separator: "\n").map(String.init)
            let heartbeats = lines.first { $0.hasPrefix(#"switchyard_publishes_total{channel="system:health_check"} "#) }
            #expect((heartbeats?.split(separator: " ").last.flatMap { Double($0) } ?? 0) >= 1, "\(text)")
            let up = lines.first { $0.hasPrefix("switchyard_redis_up ") }?.split(separator: " ").last.flatMap { Double($0) }
            #expect(up == 1, "\(text)")
            #expect(lines.contains { $0.hasPrefix("redis_commands_total") }, "the Redis client reports through the same registry")

            var request = URLRequest(url: URL(string: server + "/v1/health/services")!)
            request.setValue("Bearer \(Self.apiKey)", forHTTPHeaderField: "Authorization")
            let (_, services) = try await URLSession.shared.data(for: request)
            #expect((services as? HTTPURLResponse)?.statusCode == 403, "the key may read clitest:* only")
        }
    }

    @Test(.needs(.redis)) func refusalsPrintTheStructuredErrorAndExitOne() async throws {
        try await withServer { server in
            let channel = Self.channel()
            let anonymous = try await run(["publish", "--server", server, channel, #"{"n":1}"#])
            #expect(anonymous.status == 1)
            #expect(try json(anonymous)["error_type"] == "unauthorized")
            #expect(anonymous.stderr.hasPrefix("error: "))
            let wrongKey = try await run(["replay", "--server", server, "--token", "nope", channel])
            #expect(wrongKey.status == 1)
            #expect(try json(wrongKey)["error_type"] == "unauthorized")
            let forbidden = try await run(["publish", "--server", server, "--token", Self.apiKey, "trades:order_filled", "{}"])
            #expect(forbidden.status == 1)
            #expect(try json(forbidden)["error_type"] == "forbidden")
            #expect(try json(forbidden)["details"]?["channel"] == "trades:order_filled")
            let malformed = try await run(["publish", "--server", server, "--token", Self.apiKey, channel, #"{"n":"#])
            #expect(malformed.status == 1)
            #expect(try json(malformed)["error_type"] == "malformed_json")
            let badSince = try await run(["replay", "--server", server, "--token", Self.apiKey, channel, "--since", "yesterday"])
            #expect(badSince.status == 1)
            #expect(try json(badSince)["error_type"] == "bad_request")
            let dlq = try await run(["dlq", "list", "--server", server, "--token", Self.apiKey, "trades:order_filled"])
            #expect(dlq.status == 1)
            #expect(try json(dlq)["error_type"] == "forbidden")
        }
    }

    @Test(.needs(.redis)) func commandsWorkStraightOnRedis() async throws {
        let redis = try TestEnvironment.value("REDIS_URL")
        try await RedisServerGate.shared.shared {
            let channel = Self.channel()
            let target = ["--redis", redis, "--allow-unknown-channels"]
            let published = try await run(["publish"] + target + [channel, #"{"price":1.5}"#])
            #expect(published.status == 0, "\(published.stdout)\(published.stderr)")
            #expect(try json(published)["sequence_number"] == 1)
            let replay = try await run(["replay"] + target + [channel, "--json"])
            #expect(replay.status == 0, "\(replay.stderr)")
            let envelope = try JSONValue(parsing: replay.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
            #expect(envelope["data"] == ["price": 1.5])
            #expect(envelope["source"] == "switchyard-cli")
            let whole = #"{"topic":"\#(channel)","timestamp":"2025-01-27T10:30:00Z","data":{"price":2.5},"metadata":{"version":"1.0"}}"#
            let message = try await run(["publish"] + target + [channel, whole])
            #expect(message.status == 0 && (try? json(message)["sequence_number"]) == 2, "\(message.stdout)\(message.stderr)")
            let second = try await JSONValue(parsing: try run(["replay"] + target + [channel, "--json", "--since", "2"]).stdout)
            #expect(second["topic"] == .string(channel) && second["event_time"] == "2025-01-27T10:30:00Z")
            #expect(second["data"] == ["price": 2.5] && second["metadata"]?["version"] == "1.0")
            try await Self.redisCLI(["XGROUP", "CREATE", "stream:{\(channel)}", "ops", "0"])
            let lag = try await json(try run(["lag"] + target + [channel, "--json"]))
            #expect(lag["groups"]?.arrayValue?.first?["group"] == "ops")
            #expect(lag["groups"]?.arrayValue?.first?["lag"] == 2)
            try await Self.redisCLI(["XADD", "dlq:{\(channel)}", "*", "envelope", envelope.serialized(), "group", "ops",
                               "error", #"{"error_type":"handler_error","message":"bad tick","details":{}}"#, "deliveries", "3",
                               "failed_at", "2026-01-27T10:30:05.123Z"])
            let list = try await json(try run(["dlq", "list"] + target + [channel, "--json"]))
            #expect(list["dead_letters"]?.arrayValue?.count == 1)
            let drop = try await run(["dlq", "drop"] + target + [channel, "--all"])
            #expect(drop.status == 0, "\(drop.stderr)")
            #expect(try json(drop)["found"] == 1)
            let unknown = try await run(["publish", "--redis", redis, channel, "{}"])
            #expect(unknown.status == 1)
            #expect(try json(unknown)["error_type"] == "unknown_channel")
        }
    }

    @Test(.needs(.sentinel)) func commandsWorkUnchangedWithASentinelURL() async throws {
        let sentinel = try TestEnvironment.value("REDIS_SENTINEL_URL")
        let channel = Self.channel()
        let target = ["--redis", sentinel, "--allow-unknown-channels"]
        for price in [1.5, 2.5] {
            let published = try await run(["publish"] + target + [channel, #"{"price":\#(price)}"#])
            #expect(published.status == 0, "\(published.stdout)\(published.stderr)")
        }
        let replay = try await run(["replay"] + target + [channel, "--json", "--since", "2"])
        #expect(replay.status == 0, "\(replay.stderr)")
        let envelope = try JSONValue(parsing: replay.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(envelope["data"] == ["price": 2.5] && envelope["sequence_number"] == 2)
        let lag = try await run(["lag"] + target + [channel, "--json"])
        #expect(lag.status == 0, "\(lag.stderr)")
        let wrongName = try await run(["lag", "--redis", sentinel.replacingOccurrences(of: "/switchyard-test", with: "/nobody"), "--timeout", "10"])
        #expect(wrongName.status == 3, "\(wrongName.stdout)\(wrongName.stderr)")
        #expect(wrongName.stderr.contains("does not monitor nobody"), "\(wrongName.stderr)")
    }

    @Test(.needs(.cluster)) func serveRunsOnAClusterNodesURL() async throws {
        try await withServer(redisVariable: "REDIS_CLUSTER_URL") { server in
            let auth = ["--server", server, "--token", Self.apiKey]
            let prefix = Self.channel()
            let channels = (0..<4).map { "\(prefix).c\($0)" }
            for channel in channels {
                let published = try await run(["publish"] + auth + [channel, #"{"n":1}"#])
                #expect(published.status == 0, "\(published.stdout)\(published.stderr)")
                #expect(try json(published)["sequence_number"] == 1)
            }
            let replay = try await run(["replay"] + auth + ["\(prefix).*", "--json"])
            #expect(replay.status == 0, "\(replay.stderr)")
            #expect(replay.stdout.split(separator: "\n").count == 4, "\(replay.stdout)")
            let lag = try await run(["lag"] + auth + ["\(prefix).*"])
            #expect(lag.status == 0, "\(lag.stderr)")
        }
    }

    @Test(.needs(.cluster)) func commandsWorkUnchangedWithAClusterNodesURL() async throws {
        let cluster = try TestEnvironment.value("REDIS_CLUSTER_URL")
        let prefix = Self.channel()
        let target = ["--redis", cluster, "--allow-unknown-channels"]
        // Channels in several hash slots, so on several primaries.
        let channels = (0..<4).map { "\(prefix).c\($0)" }
        for channel in channels {
            for price in [1.5, 2.5] {
                let published = try await run(["publish"] + target + [channel, #"{"price":\#(price)}"#])
                #expect(published.status == 0, "\(published.stdout)\(published.stderr)")
            }
        }
        let replay = try await run(["replay"] + target + [channels[0], "--json", "--since", "2"])
        #expect(replay.status == 0, "\(replay.stderr)")
        let envelope = try JSONValue(parsing: replay.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(envelope["data"] == ["price": 2.5] && envelope["sequence_number"] == 2)
        // A pattern spans the slots: the registry and every primary's keyspace are read.
        let pattern = try await run(["replay"] + target + ["\(prefix).*", "--json"])
        #expect(pattern.status == 0, "\(pattern.stderr)")
        #expect(pattern.stdout.split(separator: "\n").count == 8, "\(pattern.stdout)")
        let lag = try await run(["lag"] + target + ["\(prefix).*", "--json"])
        #expect(lag.status == 0, "\(lag.stderr)")
        let state = try await run(["state", "set"] + target + ["cache:\(prefix):price", #"{"price":3.5}"#])
        #expect(state.status == 0, "\(state.stderr)")
        let read = try await run(["state", "get"] + target + ["cache:\(prefix):price"])
        #expect(read.stdout.contains("3.5"), "\(read.stdout)\(read.stderr)")
        let letters = try await run(["dlq", "list"] + target + [channels[1], "--json"])
        #expect(letters.status == 0, "\(letters.stderr)")
    }

    @Test(.needs(.redis)) func bridgeStoresPlainPublishesAndDeadLettersTheRest() async throws {
        let redis = try TestEnvironment.value("REDIS_URL")
        try await RedisServerGate.shared.shared {
            let channel = Self.channel()
            let bridge = Process()
            bridge.executableURL = URL(fileURLWithPath: CLITests.binary)
            bridge.arguments = ["bridge", "--redis", redis, "--allow-unknown-channels", "--pattern", channel, "--source", "cli-bridge"]
            bridge.standardOutput = Pipe()
            bridge.standardError = Pipe()
            try bridge.run()
            defer { if bridge.isRunning { bridge.terminate() } }
            // Pub/Sub keeps nothing: publish until the bridge, once subscribed, has stored one.
            let stored = try await eventually(every: .milliseconds(100)) {
                try await Self.redisCLI(["PUBLISH", channel, #"{"price":1.5}"#])
                let replay = try await run(["replay", "--redis", redis, "--allow-unknown-channels", channel, "--json"])
                return replay.status == 0 && replay.stdout.contains(#""source":"cli-bridge""#)
            }
            #expect(stored, "the bridge stored a plain publish")
            try await Self.redisCLI(["PUBLISH", channel, "not json"])
            var letters: [JSONValue] = []
            _ = try await eventually(every: .milliseconds(100)) {
                letters = try await json(try run(["dlq", "list", "--redis", redis, channel, "--json"]))["dead_letters"]?.arrayValue ?? []
                return !letters.isEmpty
            }
            #expect(letters.first?["group"] == "cli-bridge" && letters.first?["error"]?["error_type"] == "validation_error")
            bridge.terminate()
            await waitForExit(bridge)
            #expect(bridge.terminationStatus == 0, "SIGTERM stops the bridge cleanly")
        }
        #expect(try await run(["bridge", "--redis", redis, "--claim-window", "0"]).status == 64)
        #expect(try await run(["serve", "--bridge", "--demo"]).status == 64)
        #expect(try await run(["serve", "--bridge"], environment: ["REDIS_URL": ""]).status == 1)
    }

    @Test func unreachableServersExitThree() async throws {
        let port = try Self.freePort()
        let server = try await run(["replay", "--server", "http://127.0.0.1:\(port)", "--timeout", "10", "trades:*"])
        #expect(server.status == 3, "\(server.stdout)\(server.stderr)")
        #expect(server.stderr.contains("cannot reach the server"))
        let redis = try await run(["lag", "--redis", "redis://127.0.0.1:\(port)", "--timeout", "10"])
        #expect(redis.status == 3, "\(redis.stdout)\(redis.stderr)")
        #expect(redis.stderr.contains("Redis"))
    }

    @Test func usageErrorsExit64() async throws {
        #expect(try await run(["replay", "--server", "http://127.0.0.1:1", "--redis", "redis://127.0.0.1:1", "x"]).status == 64)
        #expect(try await run(["dlq", "requeue", "x"]).status == 64)
        #expect(try await run(["dlq", "drop", "x", "1-1", "--all"]).status == 64)
        #expect(try await run(["publish", "--server", "ftp://x", "x", "{}"]).status == 64)
        #expect(try await run(["publish"]).status == 64)
        let missing = try await run(["publish", "--server", "http://127.0.0.1:1", "x", "/nonexistent/payload.json"])
        #expect(missing.status == 64)
        #expect(missing.stderr.contains("neither JSON text nor a readable file"))
    }

    @Test func serveRefusesABadConfigFileNamingTheKey() async throws {
        let file = NSTemporaryDirectory() + "cli-bad-config-" + UUID().uuidString + ".json"
        try #"{"port": 0, "auth": {"api_keys": [{"name": "a", "key": "k", "grants": {"publish": 5}}]}}"#.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let result = try await run(["serve", "--config", file])
        #expect(result.status == 1)
        #expect(result.stderr.contains("auth.api_keys[0].grants.publish: must be an array of strings"), "\(result.stderr)")
        let viaEnvironment = try await run(["serve"], environment: ["SWITCHYARD_CONFIG": file])
        #expect(viaEnvironment.status == 1 && viaEnvironment.stderr.contains("auth.api_keys[0]"))
        let unknown = try await run(["serve", "--config", "/nonexistent/switchyard.json"])
        #expect(unknown.status == 1 && unknown.stderr.contains("cannot read the config file"))
    }

    @Test func printConfigShowsEachValueWithWhereItCameFromAndNoSecret() async throws {
        let file = NSTemporaryDirectory() + "cli-print-config-" + UUID().uuidString + ".json"
        try #"{"port": 9100, "host": "0.0.0.0", "postgres": "postgres://app:pg-secret@db:5432/trading", "metrics_token": "file-token-0123456789"}"#
            .write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let result = try await run(
            ["serve", "--config", file, "--port", "9200", "--no-allow-unknown-channels", "--print-config"],
            environment: [
                "REDIS_URL": "redis://svc:redis-secret@cache:6379", "POSTGRES_URL": "", "SWITCHYARD_HOST": "", "SWITCHYARD_ALLOW_UNKNOWN_CHANNELS": "true",
            ])
        #expect(result.status == 0, "\(result.stderr)")
        func line(_ key: String) -> String { result.stdout.split(separator: "\n").first { $0.hasPrefix(key + " ") }.map(String.init) ?? "" }
        #expect(line("port").hasSuffix("9200  (flags)"), "\(line("port"))")
        #expect(line("host").hasSuffix("0.0.0.0  (file \(file))"), "an empty variable counts as unset: \(line("host"))")
        #expect(line("redis").contains("redis://svc:***@cache:6379") && line("redis").hasSuffix("(environment REDIS_URL)"), "\(line("redis"))")
        #expect(line("postgres").contains("postgres://app:***@db:5432/trading"), "\(line("postgres"))")
        #expect(line("allow_unknown_channels").hasSuffix("false  (flags)"), "--no-… overrides the environment: \(line("allow_unknown_channels"))")
        #expect(line("ws_max_sessions").hasSuffix("32  (default)"))
        for secret in ["pg-secret", "redis-secret", "file-token-0123456789"] {
            #expect(!result.stdout.contains(secret) && !result.stderr.contains(secret), "\(secret) was printed")
        }
        let demo = try await run(["serve", "--demo", "--print-config"], environment: ["REDIS_URL": "redis://127.0.0.1:6379"])
        #expect(demo.status == 0)
        #expect(demo.stdout.contains("(embedded engine)  (--demo)") && demo.stdout.contains("allow_anonymous_publish  true  (--demo)"), "\(demo.stdout)")
    }
}

/// `switchyard serve` with no auth configured, bound to every address: loopback clients get in
/// without credentials, clients from another address get 401.
@Suite struct AnonymousAccessTests {
    /// The machine's first non-loopback IPv4 address, if it has one.
    static let externalAddress: String? = {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return nil }
        defer { freeifaddrs(list) }
        for entry in sequence(first: first, next: { $0.pointee.ifa_next }) {
            guard let address = entry.pointee.ifa_addr, address.pointee.sa_family == sa_family_t(AF_INET) else { continue }
            var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            guard getnameinfo(address, socklen_t(MemoryLayout<sockaddr_in>.size), &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST) == 0 else { continue }
            let text = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if !text.hasPrefix("127.") { return text }
        }
        return nil
    }()

    static func status(_ url: String) async -> Int? {
        var request = URLRequest(url: URL(string: url)!, timeoutInterval: 20)
        request.httpMethod = "GET"
        guard let (_, response) = try? await URLSession.shared.data(for: request) else { return nil }
        return (response as? HTTPURLResponse)?.statusCode
    }

    @Test(.enabled(if: externalAddress != nil, "the machine has no non-loopback IPv4 address"))
    func nonLoopbackClientsNeedCredentialsByDefault() async throws {
        let external = try #require(Self.externalAddress)
        let port = try ClientCommandTests.freePort()
        let server = Process()
        server.executableURL = URL(fileURLWithPath: CLITests.binary)
        server.arguments = ["serve", "--host", "0.0.0.0", "--port", String(port)]
        server.environment = ProcessInfo.processInfo.environment.filter { !["REDIS_URL", "SWITCHYARD_CONFIG", "POSTGRES_URL"].contains($0.key) }
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        try await terminating(server) {
            try #require(try await ClientCommandTests.answersHealth("http://127.0.0.1:\(port)", while: server), "switchyard serve did not come up")
            #expect(await Self.status("http://127.0.0.1:\(port)/v1/channels") == 200)
            #expect(await Self.status("http://\(external):\(port)/v1/channels") == 401)
            #expect(await Self.status("http://\(external):\(port)/healthz") == 200)
        }
    }
}
