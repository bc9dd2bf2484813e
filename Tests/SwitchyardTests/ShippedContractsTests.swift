import Foundation
import JSONSchema
import Testing

@testable import Switchyard

@Suite struct ShippedContractsTests {
    static let registry = try! ContractRegistry.shipped()

    /// Every channel the seeds name: REC.IO's 19 topics (seed 000) and its channels of seed 002,
    /// the backtester's six (001), OPA's three (003) and the signal service's four (004).
    static let requiredChannels = [
        "market_data:btc_price", "market_data:kalshi_events", "market_data:strike_updates", "market_data:position_changes",
        "trades:new_order", "trades:order_filled", "trades:order_cancelled", "trades:position_update", "trades:pnl_update",
        "system:health_check", "system:service_status", "system:error_alert", "system:performance_metrics",
        "user:login", "user:logout", "user:session_update", "user:preferences_change", "user:*",
        "trades:*", "trades:updates", "trades:created", "prices:btc", "positions:*", "settings:*", "system:health", "system:events",
        "position:updated", "exposure:calculated", "risk:calculated", "pnl:calculated", "strategy:instructions", "events:logged",
        "quotes.realtime", "capacity.scores", "system.health",
        "signals.generated", "orders.executed", "positions.updated", "price.updated.*",
    ]

    @Test func coverEveryChannelOfTheSourceSystems() {
        let channels = Set(Self.registry.contracts.map(\.channel.rawValue))
        for channel in Self.requiredChannels {
            #expect(channels.contains(channel), "no shipped contract for \(channel)")
        }
    }

    @Test func folderIsLintClean() {
        let problems = ContractLinter.lint(directory: ContractRegistry.shippedDirectory)
        #expect(problems.isEmpty, "\(problems.map(\.description).joined(separator: "\n"))")
    }

    @Test(arguments: registry.contracts.map(\.channel.rawValue))
    func examplesBehave(_ channel: String) throws {
        let contract = try #require(Self.registry.contracts.first { $0.channel.rawValue == channel })
        #expect(!contract.validExamples.isEmpty)
        #expect(!contract.invalidExamples.isEmpty)
        for example in contract.validExamples {
            #expect(throws: Never.self) { try contract.validate(example) }
        }
        for (payload, why) in contract.invalidExamples {
            let error = #expect(throws: SwitchyardError.self, "\(why)") { try contract.validate(payload) }
            #expect(error?.body["error_type"] == "validation_error", "\(why)")
            let field = Self.offendingField(why)
            let missing = error?.details["missing_fields"]?.arrayValue?.compactMap(\.stringValue) ?? []
            let invalid = error?.details["invalid_fields"]?.objectValue?.keys ?? []
            #expect(missing.contains(field) || invalid.contains(field), "\(channel): '\(why)' names \(field), the error names \(missing) \(invalid)")
        }
    }

    /// The field an invalid example breaks: by convention the first word of its `why`, a dotted
    /// path (`metadata.changes_count`) or `$` for the payload itself.
    static func offendingField(_ why: String) -> String {
        String(why.prefix { $0 != " " && $0 != ":" })
    }

    @Test func payloadsStayOpenBecauseNoSeedClosesAnObject() {
        func closed(_ schema: JSONValue) -> Bool {
            if schema["additionalProperties"] == false { return true }
            return schema["properties"]?.objectValue?.members.contains { closed($0.value) } ?? false
        }
        for contract in Self.registry.contracts {
            #expect(!closed(contract.schema), "\(contract.channel) sets additionalProperties false")
        }
    }

    @Test func designExampleFillIsAccepted() throws {
        let payloadGuard = PayloadGuard(registry: Self.registry)
        let data = #"{"order_id":"ord_123456","fill_id":"fill_789","filled_quantity":10,"filled_price":0.65,"fill_time":"2026-01-27T10:30:03Z","commission":0.10}"#
        let checked = try payloadGuard.check(channel: try ChannelName("trades:order_filled"), payload: Array(data.utf8))
        #expect(checked.schemaID == "trades:order_filled@1")
        #expect(checked.policy.critical)
    }

    @Test func perUserTradeChannelsFallBackToThePattern() throws {
        #expect(Self.registry.contract(for: try ChannelName("trades:user_0001"))?.channel.rawValue == "trades:*")
        #expect(Self.registry.contract(for: try ChannelName("price.updated.AAPL"))?.channel.rawValue == "price.updated.*")
    }
}

@Suite struct ContractLinterTests {
    @Test func findsSchemaExampleCredentialAndOverlapProblems() throws {
        let folder = try ContractFolder([
            "meta.json": #"{"channel": "events:a", "schema": {"type": "objekt"}, "examples": {"valid": [{}]}}"#,
            "ex.json": ContractFolder.contract("events:b").replacingOccurrences(of: #""valid": [{"n": 1}]"#, with: #""valid": [{"n": -5}]"#),
            "inv.json": ContractFolder.contract("events:c").replacingOccurrences(of: #"{"n": -1}"#, with: #"{"n": 3}"#),
            "cred.json": #"{"channel": "events:d", "schema": {"type": "object", "properties": {"password": {"type": "string"}}}, "examples": {"valid": [{}]}}"#,
            "p1.json": ContractFolder.contract("price.*.AAPL"),
            "p2.json": ContractFolder.contract("price.?pdated.*"),
            "noex.json": #"{"channel": "events:e", "schema": {"type": "object"}}"#,
        ])
        let text = ContractLinter.lint(directory: folder.path).map(\.description)
        #expect(text.hasProblem("meta.json", "/schema", "not a valid draft-07 schema"), "\(text)")
        #expect(text.hasProblem("ex.json", "/examples/valid/0", "does not validate"), "\(text)")
        #expect(text.hasProblem("inv.json", "/examples/invalid/0", "validates, but should not"), "\(text)")
        #expect(text.hasProblem("cred.json", "/schema/properties/password", "credential"), "\(text)")
        #expect(text.hasProblem("p", "/channel", "both match"), "\(text)")
        #expect(text.hasProblem("noex.json", "/examples/valid", "at least one valid example"), "\(text)")
    }
}
