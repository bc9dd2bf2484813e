import Foundation
import RedisTestSupport
import Testing

/// `switchyard contracts codegen`: what it writes, what it picks, and what it refuses.
@Suite("switchyard contracts codegen")
struct CodegenCommandTests {
    func run(_ arguments: [String]) async throws -> ProgramResult {
        try await runProgram(CLITests.binary, arguments)
    }

    func folder() throws -> String {
        let path = NSTemporaryDirectory() + "cli-codegen-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test("each language writes one file with a type per shipped contract")
    func everyLanguage() async throws {
        let out = try folder()
        defer { try? FileManager.default.removeItem(atPath: out) }
        for (language, file, declaration) in [
            ("swift", "SwitchyardContracts.swift", "public struct TradesOrderFilled: ChannelPayload, Equatable {"),
            ("python", "switchyard_contracts.py", "class TradesOrderFilled:"),
            ("typescript", "switchyard-contracts.d.ts", "export interface TradesOrderFilled {"),
        ] {
            let result = try await run(["contracts", "codegen", "--language", language, "--out", out + "/" + language])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout == "wrote \(out)/\(language)/\(file): 39 payload types\n")
            let text = try String(contentsOfFile: "\(out)/\(language)/\(file)", encoding: .utf8)
            #expect(text.contains(declaration), "\(language)")
            // The places the shipped schemas leave untyped are listed, and the run still succeeds.
            #expect(result.stderr.contains("note: trades:created: schema /properties/trade_id: no type; typed as any JSON value"))
            #expect(result.stderr.contains("note: user:login: schema /: the schema declares no properties; the payload is kept as a JSON object"))
        }
    }

    @Test("--channel keeps the contracts of those channels or patterns, a channel name standing for the contract that covers it")
    func someChannels() async throws {
        let out = try folder()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let result = try await run([
            "contracts", "codegen", "--language", "typescript", "--out", out, "--channel", "trades:order_filled", "--channel", "trades:user_0001",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasSuffix(": 2 payload types\n"))
        let text = try String(contentsOfFile: out + "/switchyard-contracts.d.ts", encoding: .utf8)
        #expect(text.contains("\"trades:order_filled\": TradesOrderFilled;"))
        #expect(text.contains("\"trades:*\": Trades;"))
        #expect(!text.contains("user:login"))

        let unknown = try await run(["contracts", "codegen", "--language", "python", "--out", out, "--channel", "nowhere:at_all"])
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains("no contract in"))
    }

    @Test("a broken contract stops the run with the loader's message and writes nothing; a schema it cannot type does not")
    func contractsFolder() async throws {
        let contracts = try folder()
        let out = try folder()
        defer {
            try? FileManager.default.removeItem(atPath: contracts)
            try? FileManager.default.removeItem(atPath: out)
        }
        try #"{"channel": "events:a", "schema": {"type": 5}}"#.write(toFile: contracts + "/a.json", atomically: true, encoding: .utf8)
        let broken = try await run(["contracts", "codegen", "--language", "swift", "--out", out, "--contracts", contracts])
        #expect(broken.status != 0)
        #expect(broken.stderr.contains("the contracts cannot be loaded"))
        #expect(!FileManager.default.fileExists(atPath: out + "/SwitchyardContracts.swift"))

        let schema = #"{"type": "object", "properties": {"any": {"oneOf": [{"type": "string"}, {"type": "integer"}]}, "n": {"type": "integer"}}}"#
        try #"{"channel": "events:a", "schema": \#(schema), "examples": {"valid": [{"any": 1, "n": 2}]}}"#
            .write(toFile: contracts + "/a.json", atomically: true, encoding: .utf8)
        let typed = try await run(["contracts", "codegen", "--language", "swift", "--out", out, "--contracts", contracts])
        #expect(typed.status == 0, "\(typed.stderr)")
        #expect(typed.stderr == "note: events:a: schema /properties/any: uses oneOf; typed as any JSON value\n")
        let text = try String(contentsOfFile: out + "/SwitchyardContracts.swift", encoding: .utf8)
        #expect(text.contains("public var `any`: JSONValue?"))
        #expect(text.contains("public var n: Int?"))
    }
}
