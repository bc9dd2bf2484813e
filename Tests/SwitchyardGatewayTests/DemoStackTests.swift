import JSONSchema
import Logging
import RedisTestSupport
import Switchyard
import Testing

import SwitchyardGateway

@testable import SwitchyardDemo

/// `switchyard serve --demo`'s simulated trading stack on the embedded engine.
@Suite struct DemoStackTests {
    static let channels = [
        "market_data:btc_price", "price.updated.AAPL", "price.updated.MSFT", "price.updated.NVDA", "trades:new_order",
        "trades:order_filled", "trades:order_cancelled", "trades:position_update", "trades:pnl_update", "orders.executed",
        "positions.updated", "system:health_check", "system:error_alert",
    ]

    /// Runs a router on the embedded engine with the shipped contracts and a demo stack on it,
    /// until `body` returns.
    static func withDemo(
        _ configuration: DemoStack.Configuration, logs: CapturedLogs = CapturedLogs(),
        _ body: @escaping @Sendable (Switchyard.Router) async throws -> Void
    ) async throws {
        let logger = logs.logger(level: .info)
        let router = Switchyard.Router(
            contracts: try ContractRegistry.shipped(), engine: EmbeddedEngine(logger: logger),
            configuration: RouterConfiguration(source: "demo-tests"), logger: logger)
        let demo = DemoStack(router: router, configuration: configuration, logger: logger)
        try await withDeadline(120) {
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await router.run() }
                tasks.addTask { try await demo.run() }
                defer { tasks.cancelAll() }
                try await body(router)
            }
        }
    }

    @Test func everyChannelGetsContractValidEventsWithinSeconds() async throws {
        let logs = CapturedLogs()
        try await Self.withDemo(.init(seed: 42, tick: .milliseconds(50)), logs: logs) { router in
            let names = try Self.channels.map { try ChannelName($0) }
            func missing() async throws -> [String] {
                var missing: [String] = []
                for name in names {
                    if try await router.info(name).lastSequenceNumber == 0 { missing.append(name.rawValue) }
                }
                return missing
            }
            let allPublished = try await eventually(timeout: .seconds(60)) { try await missing().isEmpty }
            let silent = try await missing()
            #expect(allPublished && silent.isEmpty, "no events on \(silent)")
            for name in names {
                let contract = try #require(router.contracts.contract(for: name), "no contract covers \(name)")
                let events = try await router.replay(try ChannelPattern(name.rawValue), since: .beginning, until: nil, limit: 10_000)
                #expect(!events.isEmpty, "\(name)")
                for event in events {
                    do { try contract.validate(event.data) } catch {
                        Issue.record("\(name) #\(event.sequenceNumber) breaks its contract: \(error); \(event.data)")
                    }
                    #expect(event.schema == contract.id)
                }
            }
            let sources = Set(try await router.replay(try ChannelPattern("system:health_check"), since: .beginning, until: nil, limit: 100).map(\.source))
            #expect(sources.isSuperset(of: ["btc_price_watchdog", "trade_executor", "risk_engine"]), "\(sources)")
        }
        #expect(!logs.all.contains { $0.contains("demo events refused") }, "\(logs.all.filter { $0.contains("refused") })")
    }

    @Test func theRiskGroupDeadLettersOrdersOverTheLimitAndRaisesAnAlert() async throws {
        let configuration = DemoStack.Configuration(seed: 7, tick: .milliseconds(50), largeOrderRate: 0.3, riskTimeoutRate: 0)
        try await Self.withDemo(configuration) { router in
            let orders = try ChannelName("trades:new_order")
            var letters: [DeadLetter] = []
            let deadLettered = try await eventually(timeout: .seconds(60)) {
                letters = try await router.deadLetters(orders)
                return !letters.isEmpty
            }
            #expect(deadLettered, "the risk group dead-lettered nothing")
            let letter = try #require(letters.first)
            #expect(letter.group == DemoStack.riskGroup)
            #expect(letter.deliveries == configuration.maxDeliveries)
            #expect(letter.error["error_type"] == "processing_error")
            #expect(letter.error["details"]?["error_type"] == "handler_error")
            #expect(letter.error["message"]?.stringValue?.contains("over the risk limit of 500") == true, "\(letter.error)")
            let quantity = try #require(letter.envelope.data["quantity"]?.doubleValue)
            #expect(quantity > 500)

            let alerts = try ChannelName("system:error_alert")
            let alerted = try await eventually(timeout: .seconds(30)) {
                try await router.replay(try ChannelPattern(alerts.rawValue), since: .beginning, until: nil, limit: 1000)
                    .contains { $0.data["alert_type"] == "risk_limit_breach" && $0.data["details"]?["order_id"] == letter.envelope.data["order_id"] }
            }
            #expect(alerted)

            let groups = try await RouterReports(router: router).groups(try ChannelPattern("*"))
            let names = Set(groups["groups"]?.arrayValue?.compactMap { $0["group"]?.stringValue } ?? [])
            #expect(names == [DemoStack.riskGroup, DemoStack.ledgerGroup])
        }
    }

    /// The same seed gives the same payloads; another seed, others.
    @Test func theSimulationIsDeterministicForASeed() throws {
        func run(_ seed: UInt64) -> [JSONValue] {
            var simulation = DemoSimulation(configuration: .init(), seed: seed)
            var payloads: [JSONValue] = []
            for step in 0..<400 {
                for event in simulation.step(at: Timestamp(unixMilliseconds: 1_800_000_000_000 + Int64(step) * 250)) {
                    payloads.append(["channel": .string(event.channel.rawValue), "data": event.payload])
                }
            }
            return payloads
        }
        let first = run(11)
        #expect(first.count > 800)
        #expect(first == run(11))
        #expect(first != run(12))
    }

    /// An order over the limit fails every delivery, the last one marks it given up, and a
    /// requeued copy passes; a small order passes at once.
    @Test func riskCheckRefusesLargeOrdersUntilRequeued() throws {
        let router = Switchyard.Router(
            contracts: try ContractRegistry.shipped(), engine: EmbeddedEngine(logger: Logger(label: "demo-tests")),
            configuration: RouterConfiguration(source: "demo-tests"), logger: Logger(label: "demo-tests"))
        let configuration = DemoStack.Configuration(riskTimeoutRate: 0, maxDeliveries: 3)
        let check = DemoRiskCheck(configuration: configuration, seed: 1, router: router, logger: Logger(label: "demo-tests"))
        func order(_ quantity: Int64) throws -> Envelope {
            Envelope(
                eventID: EventID.generate(), channel: try ChannelName("trades:new_order"), sequenceNumber: 1, timestamp: .now(), source: "trade_manager",
                schema: "trades:new_order@1", data: ["order_id": "ord_1", "quantity": .int(quantity)], metadata: [:])
        }
        let large = try order(900)
        #expect(check.decide(large) == .overLimit(quantity: 900, final: false))
        #expect(check.decide(large) == .overLimit(quantity: 900, final: false))
        #expect(check.decide(large) == .overLimit(quantity: 900, final: true))
        #expect(check.decide(large) == .pass)
        #expect(check.decide(try order(20)) == .pass)
    }
}
