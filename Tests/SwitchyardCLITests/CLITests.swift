import Foundation
import JSONSchema
import RedisTestSupport
import Testing

/// Runs the built `switchyard` binary and checks its output and exit codes.
@Suite struct CLITests {
    static let binary: String = {
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [directory, directory.deletingLastPathComponent(), Bundle.main.bundleURL] {
            let path = candidate.appendingPathComponent("switchyard").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return directory.appendingPathComponent("switchyard").path
    }()

    typealias Result = ProgramResult

    func run(_ arguments: [String], stdin: String? = nil, in directory: String = NSTemporaryDirectory()) async throws -> Result {
        try await runProgram(Self.binary, arguments, stdin: stdin, directory: directory)
    }

    @Test func checkPassesOnTheShippedContractsFromAnyFolder() async throws {
        let result = try await run(["contracts", "check"], in: "/")
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.hasPrefix("OK: "))
    }

    @Test func checkListsEveryProblemAndExitsOne() async throws {
        let folder = NSTemporaryDirectory() + "cli-contracts-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try #"{"channel": "events:a", "schema": {"type": 5}, "policy": {"speed": 1}}"#.write(toFile: folder + "/a.json", atomically: true, encoding: .utf8)
        try "{ nope".write(toFile: folder + "/b.json", atomically: true, encoding: .utf8)
        let result = try await run(["contracts", "check", folder])
        #expect(result.status == 1)
        #expect(result.stdout.contains("a.json /policy/speed"))
        #expect(result.stdout.contains("b.json line 1, column"))
    }

    @Test func validateAcceptsAValidPayloadFromStandardInput() async throws {
        let payload = #"{"order_id":"ord_123456","fill_id":"fill_789","filled_quantity":10,"filled_price":0.65,"fill_time":"2026-01-27T10:30:03Z","commission":0.10}"#
        let result = try await run(["contracts", "validate", "trades:order_filled", "-"], stdin: payload)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout == "OK\n")
    }

    @Test func validatePrintsTheValidationErrorAndExitsOne() async throws {
        let file = NSTemporaryDirectory() + "payload-" + UUID().uuidString + ".json"
        try #"{"order_id":"ord_1","filled_quantity":"ten"}"#.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let result = try await run(["contracts", "validate", "trades:order_filled", file])
        #expect(result.status == 1)
        let body = try JSONValue(parsing: result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(body["error_type"] == "validation_error")
        #expect(body["details"]?["missing_fields"]?.arrayValue == [])
        #expect(body["details"]?["invalid_fields"]?["filled_quantity"] != nil)
    }

    @Test func validateRefusesUnknownChannelsAndBadJSON() async throws {
        let unknown = try await run(["contracts", "validate", "nobody:here", "-"], stdin: "{}")
        #expect(unknown.status == 1)
        #expect(try JSONValue(parsing: unknown.stdout.trimmingCharacters(in: .whitespacesAndNewlines))["error_type"] == "unknown_channel")
        let malformed = try await run(["contracts", "validate", "trades:order_filled", "-"], stdin: "{\"a\":")
        #expect(malformed.status == 1)
        #expect(try JSONValue(parsing: malformed.stdout.trimmingCharacters(in: .whitespacesAndNewlines))["error_type"] == "malformed_json")
    }

    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    @Test func checkReadsTheRepositoryContractsFolderThroughItsSymlink() async throws {
        let result = try await run(["contracts", "check", Self.repositoryRoot + "/contracts"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    }

    @Test func contractsOptionSelectsTheFolder() async throws {
        let folder = NSTemporaryDirectory() + "cli-own-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try #"{"channel": "desk:orders", "schema": {"type": "object", "required": ["qty"], "properties": {"qty": {"type": "integer"}}}, "examples": {"valid": [{"qty": 1}]}}"#
            .write(toFile: folder + "/desk.json", atomically: true, encoding: .utf8)
        #expect(try await run(["contracts", "validate", "--contracts", folder, "desk:orders", "-"], stdin: #"{"qty": 3}"#).status == 0)
        let refused = try await run(["contracts", "validate", "--contracts", folder, "desk:orders", "-"], stdin: #"{"qty": "3"}"#)
        #expect(refused.status == 1)
        #expect(refused.stdout.contains(#""invalid_fields":{"qty":"must be an integer"}"#))
        #expect(try await run(["contracts", "validate", "--contracts", folder, "trades:order_filled", "-"], stdin: "{}").stdout.contains("unknown_channel"))
        let document = try await JSONValue(parsing: try run(["contracts", "asyncapi", folder]).stdout)
        #expect(document["channels"]?.objectValue?.keys == ["desk_orders"])
    }

    @Test func validateChecksAWholeEnvelope() async throws {
        let envelope = #"{"event_id":"0193a2c4-7b1e-7c3a-9f1e-3b2d1c0a9e8f","channel":"trades:order_filled","sequence_number":42,"timestamp":"2026-01-27T10:30:05.123Z","source":"trade_executor","schema":"trades:order_filled@1","data":{"order_id":"ord_123456","fill_id":"fill_789","filled_quantity":10,"filled_price":0.65,"fill_time":"2026-01-27T10:30:03Z","commission":0.10},"metadata":{"user_id":"user_0001"}}"#
        #expect(try await run(["contracts", "validate", "trades:order_filled"], stdin: envelope).stdout == "OK\n")
        let broken = envelope.replacingOccurrences(of: #""sequence_number":42"#, with: #""sequence_number":"42""#)
        let result = try await run(["contracts", "validate", "trades:order_filled"], stdin: broken)
        #expect(result.status == 1)
        let body = try JSONValue(parsing: result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(body["error_type"] == "validation_error")
        #expect(body["message"] == "Invalid envelope")
        #expect(body["details"]?["invalid_fields"]?["sequence_number"] != nil)
    }

    @Test func asyncapiPrintsTheDocument() async throws {
        let result = try await run(["contracts", "asyncapi"])
        #expect(result.status == 0)
        let document = try JSONValue(parsing: result.stdout)
        #expect(document["asyncapi"] == "3.0.0")
        #expect(document["channels"]?["quotes_realtime"]?["address"] == "quotes.realtime")
    }
}
