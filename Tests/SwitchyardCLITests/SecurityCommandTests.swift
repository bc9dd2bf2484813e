import Foundation
import JSONSchema
import RedisTestSupport
import Testing

/// `switchyard serve` with signing keys and an audit file, and `switchyard audit` reading it,
/// through the built binary.
@Suite struct SecurityCommandTests {
    static let secret = "c2lnbmluZy1rZXktZm9yLXRoZS1jbGktdGVzdHMtMDAwMDAwMDA="
    static let fill = #"{"order_id":"ord_123456","fill_id":"fill_789","filled_quantity":10,"filled_price":0.65,"fill_time":"2026-01-27T10:30:03Z","commission":0.10}"#

    /// The environment of a server on the embedded engine, without the test servers' URLs.
    static var serverEnvironment: [String: String] {
        ProcessInfo.processInfo.environment.filter { !["REDIS_URL", "POSTGRES_URL", "SWITCHYARD_AUDIT_FILE", "SWITCHYARD_SIGNING_KEYS"].contains($0.key) }
    }

    /// Runs `switchyard serve` on the embedded engine with `arguments` until `body` returns, then
    /// stops it with SIGTERM and waits for it to exit.
    func withServer(_ arguments: [String], _ body: (String) async throws -> Void) async throws {
        let port = try ClientCommandTests.freePort()
        let server = Process()
        server.executableURL = URL(fileURLWithPath: CLITests.binary)
        server.arguments = ["serve", "--port", String(port), "--allow-anonymous-publish"] + arguments
        server.environment = Self.serverEnvironment
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        let url = "http://127.0.0.1:\(port)"
        try await terminating(server) {
            try #require(try await ClientCommandTests.answersHealth(url, while: server), "switchyard serve did not come up on \(url)")
            try await body(url)
        }
    }

    @Test func serveSignsCriticalChannelsAndAuditsToAFileThatAuditReads() async throws {
        let folder = NSTemporaryDirectory() + "cli-security-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try "# newest first\ncli-1:\(Self.secret)\n".write(toFile: folder + "/signing.keys", atomically: true, encoding: .utf8)
        let auditFile = folder + "/audit.jsonl"
        let cli = ClientCommandTests()
        var eventID = ""
        try await withServer(["--signing-keys-file", folder + "/signing.keys", "--audit-file", auditFile]) { server in
            let published = try await cli.run(["publish", "--server", server, "trades:order_filled", Self.fill])
            #expect(published.status == 0, "\(published.stdout)\(published.stderr)")
            eventID = try cli.json(published)["event_id"]?.stringValue ?? ""
            let refused = try await cli.run(["publish", "--server", server, "trades:order_filled", #"{"order_id":"ord_1","filled_quantity":"ten"}"#])
            #expect(refused.status == 1)
            let replay = try await cli.run(["replay", "--server", server, "trades:order_filled", "--json"])
            let envelope = try JSONValue(parsing: replay.stdout.split(separator: "\n").first.map(String.init) ?? "")
            #expect(envelope["metadata"]?["signature"]?["key_id"] == "cli-1")
            #expect(envelope["metadata"]?["signature"]?["alg"] == "HMAC-SHA256")
        }
        // The server has stopped: its audit trail was written on the way out.
        let all = try await cli.run(["audit", "--file", auditFile], environment: ["POSTGRES_URL": ""])
        #expect(all.status == 0, "\(all.stderr)")
        let lines = all.stdout.split(separator: "\n").map { $0.split(separator: "\t").map(String.init) }
        let actions = lines.map { $0.count > 1 ? $0[1] : "" }
        #expect(actions.contains("publish") && actions.contains("refuse"), "\(all.stdout)")
        #expect(lines.contains { $0.count == 7 && $0[1] == "publish" && $0[3] == "trades:order_filled" && $0[5] == eventID })
        #expect(lines.contains { $0.count == 7 && $0[1] == "refuse" && $0[6] == "validation_error" })

        let json = try await cli.run(["audit", "--file", auditFile, "--json", "--event-id", eventID, "--since", "1h", "--channel", "trades:*"])
        let records = json.stdout.split(separator: "\n").compactMap { try? JSONValue(parsing: String($0)) }
        #expect(records.count == 1 && records.first?["action"] == "publish" && records.first?["sequence_number"] == 1)
        let refusals = try await cli.run(["audit", "--file", auditFile, "--action", "refuse", "--json"])
        #expect(refusals.stdout.split(separator: "\n").count == 1)
        let none = try await cli.run(["audit", "--file", auditFile, "--who", "nobody"])
        #expect(none.status == 0 && none.stdout.isEmpty)
        let future = try await cli.run(["audit", "--file", auditFile, "--until", "2000-01-01T00:00:00Z"])
        #expect(future.status == 0 && future.stdout.isEmpty)

        let usage = try await cli.run(["audit", "--file", auditFile, "--since", "yesterday"])
        #expect(usage.status == 64 && usage.stderr.contains("--since"))
        let action = try await cli.run(["audit", "--file", auditFile, "--action", "publish-ish"])
        #expect(action.status == 64 && action.stderr.contains("dead_letter"))
    }

    @Test(.needs(.redis)) func publishStraightOnRedisSignsWithTheKeysOfTheEnvironment() async throws {
        let redis = try TestEnvironment.value("REDIS_URL")
        let channel = "orders.clitest_\(UUID().uuidString.prefix(8).lowercased())"
        let cli = ClientCommandTests()
        try await RedisServerGate.shared.shared {
            let published = try await cli.run(
                ["publish", "--redis", redis, "--allow-unknown-channels", channel, #"{"qty":1}"#],
                environment: ["SWITCHYARD_SIGNING_KEYS": "env-1:\(Self.secret)"])
            #expect(published.status == 0, "\(published.stdout)\(published.stderr)")
            let replay = try await cli.run(["replay", "--redis", redis, channel, "--json"])
            let envelope = try JSONValue(parsing: replay.stdout.split(separator: "\n").first.map(String.init) ?? "")
            #expect(envelope["metadata"]?["signature"]?["key_id"] == "env-1", "orders.* is critical by default")
            let broken = try await cli.run(
                ["publish", "--redis", redis, "--allow-unknown-channels", channel, #"{"qty":2}"#],
                environment: ["SWITCHYARD_SIGNING_KEYS": "env-1:c2hvcnQ="])
            #expect(broken.status == 64 && broken.stderr.contains("SWITCHYARD_SIGNING_KEYS") && !broken.stderr.contains("c2hvcnQ="), "\(broken.stderr)")
        }
    }

    @Test func aBadSigningKeyFileStopsServeWithoutPrintingTheSecret() async throws {
        let folder = NSTemporaryDirectory() + "cli-badkey-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let short = Data("too-short-secret".utf8).base64EncodedString()
        try "k1:\(short)\n".write(toFile: folder + "/signing.keys", atomically: true, encoding: .utf8)
        let result = try await ClientCommandTests().run(
            ["serve", "--port", "0", "--signing-keys-file", folder + "/signing.keys"],
            environment: Self.serverEnvironment.merging(["REDIS_URL": "", "POSTGRES_URL": ""]) { $1 })
        #expect(result.status == 1)
        #expect(result.stderr.contains("signing_keys_file") && result.stderr.contains("at least 32 bytes"), "\(result.stderr)")
        #expect(!result.stderr.contains(short) && !result.stderr.contains("too-short-secret"))
        let environment = try await ClientCommandTests().run(
            ["serve", "--port", "0"],
            environment: ["REDIS_URL": "", "POSTGRES_URL": "", "SWITCHYARD_SIGNING_KEYS": "k1:\(Self.secret)", "SWITCHYARD_SIGNING_KEYS_FILE": "/x"])
        #expect(environment.status == 1 && environment.stderr.contains("not both"), "\(environment.stderr)")
    }
}
