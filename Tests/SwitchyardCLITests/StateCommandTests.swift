import Foundation
import JSONSchema
import RedisTestSupport
import Testing

/// `switchyard state set|get` through a running server and straight on Redis: one writes, the other reads.
@Suite(.needs(.redis)) struct StateCommandTests {
    let cli = ClientCommandTests()

    @Test func setThroughTheServerGetFromRedisAndBack() async throws {
        try await cli.withServer { server in
            let redis = try TestEnvironment.value("REDIS_URL")
            let key = ClientCommandTests.channel()
            let auth = ["--server", server, "--token", ClientCommandTests.apiKey]
            let set = try await cli.run(["state", "set"] + auth + [key, "-"], stdin: #"{"price":97000.5}"#)
            #expect(set.status == 0, "\(set.stdout)\(set.stderr)")
            #expect(try cli.json(set) == ["key": .string(key), "ttl": "1h", "ttl_seconds": 3600], "an unknown key, allowed by the server, lives an hour")
            let direct = try await cli.run(["state", "get", "--redis", redis, "--allow-unknown-channels", key])
            #expect(direct.status == 0, "\(direct.stderr)")
            #expect(try cli.json(direct) == ["price": 97000.5])

            let file = NSTemporaryDirectory() + "cli-state-" + UUID().uuidString + ".json"
            try #"{"timestamp":"2024-05-12T14:00:00Z","wallet":{}}"#.write(toFile: file, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: file) }
            let snapshot = try await cli.run(["state", "set", "--redis", redis, "pnl:current", file])
            #expect(snapshot.status == 0, "\(snapshot.stderr)")
            #expect(try cli.json(snapshot)["ttl_seconds"] == 3600)
            let viaRedis = try await cli.run(["state", "get", "--redis", redis, "--json", "pnl:current"])
            #expect(try cli.json(viaRedis)["value"]?["timestamp"] == "2024-05-12T14:00:00Z")
            #expect(try cli.json(viaRedis)["family"] == "pnl:current")

            let forbidden = try await cli.run(["state", "get"] + auth + ["pnl:current"])
            #expect(forbidden.status == 1)
            #expect(try cli.json(forbidden)["error_type"] == "forbidden", "the key may read clitest:* only")
            let unknown = try await cli.run(["state", "get", "--redis", redis, "nowhere:key"])
            #expect(unknown.status == 1)
            #expect(try cli.json(unknown)["error_type"] == "unknown_state_key")
            let notJSON = try await cli.run(["state", "set"] + auth + [key, "-"], stdin: "{oops")
            #expect(notJSON.status == 1)
            #expect(try cli.json(notJSON)["error_type"] == "malformed_json")
        }
    }
}
