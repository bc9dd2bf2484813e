import Foundation
import RedisTestSupport
import Testing

/// `switchyard acl` on the shipped contracts, through the built binary.
@Suite struct ACLCommandTests {
    func run(_ arguments: [String], environment: [String: String]) async throws -> ProgramResult {
        try await runProgram(CLITests.binary, arguments, environment: environment)
    }

    @Test("passwords come from one variable per service and are printed only as their SHA-256")
    func hashedPasswords() async throws {
        let services = ["trade_executor", "trade_manager"]
        let contracts = try makeContracts(producers: services)
        defer { try? FileManager.default.removeItem(atPath: contracts) }
        let environment = [
            "SWITCHYARD_REDIS_PASSWORD_TRADE_EXECUTOR": "secret", "SWITCHYARD_REDIS_PASSWORD_TRADE_MANAGER": "other-secret",
        ]
        let result = try await run(["acl", "--contracts", contracts], environment: environment)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").filter { $0.hasPrefix("ACL SETUSER") }
        #expect(lines.count == 2)
        // SHA-256("secret")
        #expect(lines.first { $0.hasPrefix("ACL SETUSER trade_executor ") }?.contains("#2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b") == true)
        #expect(!result.stdout.contains(">secret") && !result.stdout.contains("other-secret"))

        let missing = try await run(["acl", "--contracts", contracts], environment: ["SWITCHYARD_REDIS_PASSWORD_TRADE_EXECUTOR": "secret"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("SWITCHYARD_REDIS_PASSWORD_TRADE_MANAGER is not set"))
        #expect(missing.stdout.isEmpty, "nothing is printed when a password is missing")

        let nopass = try await run(["acl", "--contracts", contracts, "--nopass", "--user-prefix", "sy-"], environment: [:])
        #expect(nopass.status == 0)
        #expect(nopass.stdout.contains("THROWAWAY TEST SERVERS ONLY") && nopass.stdout.contains("ACL SETUSER sy-trade_executor reset on nopass"))
    }

    @Test("--gateway-user adds the gateway's own user, its password from the same kind of variable")
    func gatewayUser() async throws {
        let contracts = try makeContracts(producers: ["trade_executor"])
        defer { try? FileManager.default.removeItem(atPath: contracts) }
        let result = try await run(
            ["acl", "--contracts", contracts, "--gateway-user", "switchyard-gateway"],
            environment: [
                "SWITCHYARD_REDIS_PASSWORD_TRADE_EXECUTOR": "a", "SWITCHYARD_REDIS_PASSWORD_TRADE_MANAGER": "b",
                "SWITCHYARD_REDIS_PASSWORD_SWITCHYARD_GATEWAY": "secret",
            ])
        #expect(result.status == 0, "\(result.stderr)")
        let line = try #require(result.stdout.split(separator: "\n").first { $0.hasPrefix("ACL SETUSER switchyard-gateway ") })
        // SHA-256("secret")
        #expect(line.contains("#2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"))
        #expect(line.contains("~stream:{*}") && line.contains("&*") && line.contains("+evalsha") && line.contains("+psubscribe"))
        #expect(!line.contains("+@all") && !line.contains("+flushall") && !line.contains("+config") && !line.contains("+del "))

        let missing = try await run(
            ["acl", "--contracts", contracts, "--gateway-user", "switchyard-gateway"],
            environment: ["SWITCHYARD_REDIS_PASSWORD_TRADE_EXECUTOR": "a", "SWITCHYARD_REDIS_PASSWORD_TRADE_MANAGER": "b"])
        #expect(missing.status == 1 && missing.stderr.contains("SWITCHYARD_REDIS_PASSWORD_SWITCHYARD_GATEWAY is not set"), "\(missing.stderr)")
        let unsafe = try await run(["acl", "--contracts", contracts, "--nopass", "--gateway-user", "gw ~* +@all"], environment: [:])
        #expect(unsafe.status != 0 && unsafe.stdout.isEmpty)
        #expect(unsafe.stderr.contains("may hold only letters"), "\(unsafe.stderr)")
    }

    @Test("every service named in the shipped contracts gets a user")
    func shipped() async throws {
        let result = try await run(["acl", "--nopass"], environment: [:])
        #expect(result.status == 0, "\(result.stderr)")
        for service in ["trade_executor", "frontend", "btc_price_watchdog", "position_monitor", "opa-quotes-streamer", "signal_service"] {
            #expect(result.stdout.contains("ACL SETUSER \(service) "), "\(service)")
        }
    }

    func makeContracts(producers: [String]) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("acl-contracts-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let contract = """
            {"channel": "trades:order_filled", "version": 1, "description": "fills",
             "schema": {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"},
             "policy": {"producers": ["\(producers.joined(separator: "\", \""))"], "consumers": ["trade_manager"]}}
            """
        try contract.write(to: directory.appendingPathComponent("fills.json"), atomically: true, encoding: .utf8)
        return directory.path
    }
}
