import Foundation
import JSONSchema
import Testing

@testable import Switchyard

@Suite struct ContractRegistryTests {
    @Test func mostSpecificContractWins() throws {
        let folder = try ContractFolder([
            "a.json": ContractFolder.contract("trades:*"),
            "b.json": ContractFolder.contract("trades:user_*"),
            "c.json": ContractFolder.contract("trades:user_0001"),
            "d.json": ContractFolder.contract("*"),
        ])
        let registry = try ContractRegistry.load(from: folder.path)
        #expect(registry.contract(for: try ChannelName("trades:user_0001"))?.channel.rawValue == "trades:user_0001")
        #expect(registry.contract(for: try ChannelName("trades:user_0002"))?.channel.rawValue == "trades:user_*")
        #expect(registry.contract(for: try ChannelName("trades:order_filled"))?.channel.rawValue == "trades:*")
        #expect(registry.contract(for: try ChannelName("quotes.realtime"))?.channel.rawValue == "*")
        #expect(registry.contract(for: try ChannelName("trades:user_0001"))?.id == "trades:user_0001@2")
    }

    @Test func unknownChannelHasNoContract() throws {
        let folder = try ContractFolder(["a.json": ContractFolder.contract("trades:*")])
        let registry = try ContractRegistry.load(from: folder.path)
        #expect(registry.contract(for: try ChannelName("quotes.realtime")) == nil)
    }

    @Test func policyKeysLeftOutTakeFamilyDefaults() throws {
        let folder = try ContractFolder([
            "md.json": ContractFolder.contract("market_data:btc_price", extra: #""policy": {"critical": true},"#),
            "t.json": ContractFolder.contract("trades:x", extra: #""policy": {"retention": "90s", "rate_limit": {"per_second": 5, "burst": 10}},"#),
        ])
        let registry = try ContractRegistry.load(from: folder.path)
        let marketData = try #require(registry.contract(for: try ChannelName("market_data:btc_price"))).policy
        #expect(marketData.retentionSeconds == 300)
        #expect(marketData.conflatable)
        #expect(marketData.critical)
        let trades = try #require(registry.contract(for: try ChannelName("trades:x"))).policy
        #expect(trades.retentionSeconds == 90)
        #expect(trades.rateLimit == .init(perSecond: 5, burst: 10))
        #expect(trades.critical)
        #expect(trades.maxSizeBytes == 1_048_576)
    }

    @Test func brokenFolderNamesEveryFileAndPlace() throws {
        let folder = try ContractFolder([
            "good.json": ContractFolder.contract("events:good"),
            "sub/syntax.json": "{\n  \"channel\": \"events:a\",\n  \"schema\": {,}\n}",
            "keys.json": ContractFolder.contract("events:b", extra: #""policy": {"retention": "soon", "colour": "red"}, "owner": "x","#),
            "channel.json": ContractFolder.contract("events::c"),
            "schema.json": #"{"channel": "events:d", "schema": {"type": "object", "pattern": "("}}"#,
            "dup.json": ContractFolder.contract("events:good"),
        ])
        do {
            _ = try ContractRegistry.load(from: folder.path)
            Issue.record("a broken folder loaded")
        } catch {
            let text = error.problems.map(\.description)
            #expect(text.hasProblem("sub/syntax.json", "line 3, column", "not valid JSON"), "\(text)")
            #expect(text.hasProblem("keys.json", "/policy/retention", "duration"), "\(text)")
            #expect(text.hasProblem("keys.json", "/policy/colour", "unknown policy key"), "\(text)")
            #expect(text.hasProblem("keys.json", "/owner", "unknown key"), "\(text)")
            #expect(text.hasProblem("channel.json", "/channel", "not a channel name"), "\(text)")
            #expect(text.hasProblem("schema.json", "/schema/pattern", "must be a valid regex"), "\(text)")
            #expect(text.hasProblem("good.json", "/channel", "already the channel of"), "\(text)")
        }
    }

    @Test func liveMessageIsEnvelopeByDefaultAndPayloadWhenAsked() throws {
        let folder = try ContractFolder([
            "quotes.json": ContractFolder.contract("quotes.realtime", extra: #""policy": {"live_message": "payload"},"#),
            "plain.json": ContractFolder.contract("signals.generated"),
        ])
        let registry = try ContractRegistry.load(from: folder.path)
        #expect(registry.contract(for: try ChannelName("quotes.realtime"))?.policy.liveMessage == .payload)
        #expect(registry.contract(for: try ChannelName("signals.generated"))?.policy.liveMessage == .envelope)
        #expect(ContractLinter.lint(directory: folder.path).isEmpty)

        let broken = try ContractFolder([
            "bad.json": ContractFolder.contract("quotes.realtime", extra: #""policy": {"live_message": "bare"},"#),
            "sealed.json": """
                {"channel": "transfers:x", "policy": {"live_message": "payload"}, "sensitive_fields": ["account"],
                 "schema": {"type": "object", "properties": {"account": {"type": "string"}}}, "examples": {"valid": [{"account": "a"}]}}
                """,
        ])
        let text = ContractLinter.lint(directory: broken.path).map(\.description)
        #expect(text.hasProblem("bad.json", "/policy/live_message", "must be \"envelope\" or \"payload\""), "\(text)")
        #expect(text.hasProblem("sealed.json", "/policy/live_message", "sensitive_fields"), "\(text)")
    }

    @Test func kafkaMappingIsReadAndCheckedAndOPAShipsSeed003sTable() throws {
        let folder = try ContractFolder([
            "quotes.json": ContractFolder.contract(
                "quotes.realtime",
                extra: #""policy": {"kafka": {"topic": "opa.quotes.realtime", "partitions": 6, "partition_key": "ticker", "retention": "7d", "compaction": true}},"#),
            "plain.json": ContractFolder.contract("signals.generated"),
        ])
        let registry = try ContractRegistry.load(from: folder.path)
        let kafka = try #require(registry.contract(for: try ChannelName("quotes.realtime"))?.policy.kafka)
        #expect(kafka == ChannelPolicy.Kafka(topic: "opa.quotes.realtime", partitions: 6, partitionKey: "ticker", retentionSeconds: 604_800, compaction: true))
        #expect(registry.contract(for: try ChannelName("signals.generated"))?.policy.kafka == nil)

        let broken = try ContractFolder([
            "topic.json": ContractFolder.contract("quotes.realtime", extra: #""policy": {"kafka": {"topic": "has space"}},"#),
            "parts.json": ContractFolder.contract("capacity.scores", extra: #""policy": {"kafka": {"partitions": 0, "colour": 1}},"#),
            "shape.json": ContractFolder.contract("system.health", extra: #""policy": {"kafka": "opa.system.health"},"#),
        ])
        let text = ContractLinter.lint(directory: broken.path).map(\.description)
        #expect(text.hasProblem("topic.json", "/policy/kafka/topic", "Kafka topic name"), "\(text)")
        #expect(text.hasProblem("parts.json", "/policy/kafka/partitions", "from 1 to 10000"), "\(text)")
        #expect(text.hasProblem("parts.json", "/policy/kafka/colour", "unknown kafka key"), "\(text)")
        #expect(text.hasProblem("shape.json", "/policy/kafka", "must be an object"), "\(text)")

        let shipped = try ContractRegistry.shipped()
        let table = try ["quotes.realtime", "capacity.scores", "system.health"].map { try #require(shipped.contract(for: try ChannelName($0))?.policy.kafka) }
        #expect(table.map(\.topic) == ["opa.quotes.realtime", "opa.capacity.scores", "opa.system.health"])
        #expect(table[0].partitions == 6 && table[0].partitionKey == "ticker")
        #expect(table[1].retentionSeconds == 7 * 86_400)
        #expect(table[2].compaction && table[2].partitionKey == "service")
    }

    @Test func acknowledgeIsReadAndItsDefaultFollowsCriticality() throws {
        let folder = try ContractFolder([
            "orders.json": ContractFolder.contract("trades:order_filled", extra: #""policy": {"acknowledge": "primary", "critical": true},"#),
            "signals.json": ContractFolder.contract("signals.generated", extra: #""policy": {"acknowledge": "replicated"},"#),
            "plain.json": ContractFolder.contract("quotes.realtime"),
        ])
        let registry = try ContractRegistry.load(from: folder.path)
        let orders = try #require(registry.contract(for: try ChannelName("trades:order_filled"))?.policy)
        let signals = try #require(registry.contract(for: try ChannelName("signals.generated"))?.policy)
        let quotes = try #require(registry.contract(for: try ChannelName("quotes.realtime"))?.policy)
        #expect(orders.acknowledge == .primary && Router.acknowledgement(orders) == .primary)
        #expect(signals.acknowledge == .replicated && Router.acknowledgement(signals) == .replicated)
        #expect(quotes.acknowledge == nil && Router.acknowledgement(quotes) == .primary)
        var critical = quotes
        critical.critical = true
        #expect(Router.acknowledgement(critical) == .replicatedWhereReplicas)

        let broken = try ContractFolder(["bad.json": ContractFolder.contract("quotes.realtime", extra: #""policy": {"acknowledge": "all"},"#)])
        let text = ContractLinter.lint(directory: broken.path).map(\.description)
        #expect(text.hasProblem("bad.json", "/policy/acknowledge", "must be \"primary\" or \"replicated\""), "\(text)")
    }

    @Test func serviceNamesAndGlobChannelsThatCouldWidenAnACLAreRefused() throws {
        let folder = try ContractFolder([
            "producer.json": ContractFolder.contract("events:a", extra: #""policy": {"producers": ["ok-1.x_y", "x ~* +@all"]},"#),
            "consumer.json": ContractFolder.contract("events:b", extra: #""policy": {"consumers": ["*", "svc)", ""]},"#),
            "glob.json": ContractFolder.contract("events:* ~* +@all"),
        ])
        do {
            _ = try ContractRegistry.load(from: folder.path)
            Issue.record("a folder with unsafe service names loaded")
        } catch {
            let text = error.problems.map(\.description)
            #expect(text.hasProblem("producer.json", "/policy/producers/1", "not a service name"), "\(text)")
            #expect(!text.contains { $0.contains("/policy/producers/0") }, "\(text)")
            #expect(text.hasProblem("consumer.json", "/policy/consumers/1", "not a service name"), "\(text)")
            #expect(text.hasProblem("consumer.json", "/policy/consumers/2", "not a service name"), "\(text)")
            #expect(text.hasProblem("glob.json", "/channel", "not a channel pattern"), "\(text)")
        }
        #expect(ChannelPolicy.isValidServiceName("trade_executor") && ChannelPolicy.isValidServiceName("*"))
        #expect(!ChannelPolicy.isValidServiceName("a*") && !ChannelPolicy.isValidServiceName("a b") && !ChannelPolicy.isValidServiceName(""))
    }

    @Test func loadsThroughASymlinkedFolder() throws {
        let folder = try ContractFolder(["a.json": ContractFolder.contract("events:a")])
        let link = folder.path + "-link"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: folder.path)
        defer { try? FileManager.default.removeItem(atPath: link) }
        #expect(try ContractRegistry.load(from: link).contracts.map(\.channel.rawValue) == ["events:a"])
    }

    @Test func missingOrEmptyFolderIsAnError() throws {
        #expect(throws: ContractFolderError.self) { try ContractRegistry.load(from: "/nonexistent/contracts") }
        let empty = try ContractFolder([:])
        #expect(throws: ContractFolderError.self) { try ContractRegistry.load(from: empty.path) }
    }

    @Test(arguments: [("5m", 300), ("300s", 300), ("1h", 3600), ("1d", 86_400), ("45", 45)])
    func durations(_ text: String, _ seconds: Int) {
        #expect(DurationText.seconds(text) == seconds)
    }

    @Test(arguments: ["", "m", "-5m", "5w", "1.5h", "h1"])
    func badDurations(_ text: String) {
        #expect(DurationText.seconds(text) == nil)
    }

    @Test(arguments: [
        ("market_data:btc_price", 300, true, false), ("quotes.realtime", 300, true, false), ("price.updated.AAPL", 300, true, false),
        ("trades:order_filled", 3600, false, true), ("orders.executed", 3600, false, true), ("positions.updated", 3600, false, true),
        ("signals.generated", 3600, false, true), ("system:health_check", 86_400, false, false), ("system.health", 86_400, false, false),
        ("user:session", 1800, false, false), ("risk:calculated", 3600, false, false), ("events:logged", 86_400, false, false),
        ("capacity.scores", 86_400, false, false), ("price:x", 86_400, false, false), ("prices:btc", 300, true, false),
        ("positions:user_0001", 3600, false, true), ("settings:user_0001", 3600, false, true), ("system:events", 86_400, false, false),
    ])
    func familyDefaults(_ channel: String, _ retention: Int, _ conflatable: Bool, _ critical: Bool) {
        let policy = ChannelPolicy.defaults(for: channel)
        #expect(policy.retentionSeconds == retention)
        #expect(policy.conflatable == conflatable)
        #expect(policy.critical == critical)
        #expect(policy.rateLimit == .standard)
        #expect(policy.delivery == .durable)
    }
}
