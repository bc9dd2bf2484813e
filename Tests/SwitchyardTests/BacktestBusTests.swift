import JSONSchema
import Testing

@testable import Switchyard

@Suite("BacktestBus: the synchronous backtest path")
struct BacktestBusTests {
    static let contracts: ContractRegistry = {
        let schema: JSONValue = [
            "type": "object", "required": ["n"],
            "properties": ["n": ["type": "integer"], "note": ["type": "string"]],
        ]
        return try! ContractRegistry([
            try! Contract(channel: try! ChannelPattern("bt.*"), schema: schema, policy: ChannelPolicy(retentionSeconds: 60, maxSizeBytes: 256))
        ])
    }()

    static func channel(_ name: String) -> ChannelName { try! ChannelName(name) }

    @Test("handlers run before publish returns, in the order they subscribed, for the channels they match")
    func inlineAndOrdered() throws {
        let bus = BacktestBus(contracts: Self.contracts)
        var seen: [String] = []
        bus.subscribe(try ChannelPattern("bt.*")) { seen.append("all \($0.channel) \($0.sequenceNumber)") }
        bus.subscribe(try ChannelPattern("bt.prices")) { seen.append("prices \($0.sequenceNumber) n=\($0.data["n"]?.serialized() ?? "")") }
        try bus.publish(to: Self.channel("bt.prices"), payload: ["n": 1])
        #expect(seen == ["all bt.prices 1", "prices 1 n=1"])
        try bus.publish(to: Self.channel("bt.orders"), payload: ["n": 2])
        try bus.publish(to: Self.channel("bt.prices"), payload: ["n": 3])
        #expect(seen == ["all bt.prices 1", "prices 1 n=1", "all bt.orders 1", "all bt.prices 2", "prices 2 n=3"])
        #expect(bus.sequenceNumber(of: Self.channel("bt.prices")) == 2)
        #expect(bus.sequenceNumber(of: Self.channel("bt.none")) == 0)
    }

    @Test("a refused payload takes no sequence number and reaches no handler")
    func refusals() throws {
        let bus = BacktestBus(contracts: Self.contracts)
        var handled = 0
        bus.subscribe(try ChannelPattern("bt.*")) { _ in handled += 1 }
        let channel = Self.channel("bt.prices")
        let invalid = #expect(throws: SwitchyardError.self) { try bus.publish(to: channel, payload: ["n": "one"]) }
        #expect(invalid?.code == .validationError)
        let credential = #expect(throws: SwitchyardError.self) { try bus.publish(to: channel, payload: ["n": 1, "api_key": "k"]) }
        #expect(credential?.code == .validationError)
        let large = #expect(throws: SwitchyardError.self) {
            try bus.publish(to: channel, payload: ["n": 1, "note": .string(String(repeating: "x", count: 300))])
        }
        #expect(large?.code == .payloadTooLarge)
        let unknown = #expect(throws: SwitchyardError.self) { try bus.publish(to: Self.channel("other"), payload: ["n": 1]) }
        #expect(unknown?.code == .unknownChannel)
        #expect(handled == 0)
        let receipt = try bus.publish(to: channel, payload: ["n": 1])
        #expect(receipt.envelope.sequenceNumber == 1 && handled == 1)
    }

    @Test("the envelope: seeded ids, the backtest clock, the contract's schema id; the same inputs give the same bytes")
    func deterministicEnvelopes() throws {
        func run() throws -> [String] {
            let bus = BacktestBus(contracts: Self.contracts, configuration: .init(source: "position_monitor", seed: 42))
            var out: [String] = []
            bus.subscribe(try ChannelPattern("bt.*")) { out.append($0.encoded()) }
            for n in 0..<20 {
                try bus.publish(to: Self.channel(n.isMultiple(of: 3) ? "bt.a" : "bt.b"), payload: ["n": .int(Int64(n))])
                bus.advance(by: .milliseconds(Int64(n % 3)))
            }
            return out
        }
        let first = try run()
        #expect(first == (try run()))
        let envelopes = try first.map { try Envelope(json: JSONValue(parsing: Array($0.utf8))) }
        #expect(envelopes.first?.timestamp == BacktestBus.Configuration().start)
        #expect(envelopes.allSatisfy { $0.source == "position_monitor" && $0.schema == "bt.*@1" })
        #expect(envelopes.filter { $0.channel.rawValue == "bt.b" }.map(\.sequenceNumber) == Array(1...13))
        #expect(zip(envelopes, envelopes.dropFirst()).allSatisfy { $0.eventID.description < $1.eventID.description }, "UUIDv7 ids in publish order")
    }

    @Test("an event id given twice within the dedup window is handled once; after the window, again")
    func dedup() throws {
        let bus = BacktestBus(contracts: Self.contracts, configuration: .init(dedupWindow: .seconds(10)))
        var handled = 0
        bus.subscribe(try ChannelPattern("bt.*")) { _ in handled += 1 }
        let id = EventID.generate()
        let channel = Self.channel("bt.x")
        let first = try bus.publish(to: channel, payload: ["n": 1], eventID: id)
        let again = try bus.publish(to: channel, payload: ["n": 2], eventID: id)
        #expect(!first.duplicate && again.duplicate)
        #expect(again.envelope == first.envelope)
        #expect(handled == 1 && bus.sequenceNumber(of: channel) == 1)
        bus.advance(by: .seconds(11))
        let later = try bus.publish(to: channel, payload: ["n": 3], eventID: id)
        #expect(!later.duplicate && later.envelope.sequenceNumber == 2 && handled == 2)
    }

    @Test("a handler's error reaches the publisher unchanged, after the event took its number; unsubscribe stops a handler")
    func handlerErrorsAndUnsubscribe() throws {
        struct Broken: Error, Equatable {}
        let bus = BacktestBus(contracts: Self.contracts)
        var after = 0
        let failing = bus.subscribe(try ChannelPattern("bt.*")) { _ in throw Broken() }
        bus.subscribe(try ChannelPattern("bt.*")) { _ in after += 1 }
        let channel = Self.channel("bt.x")
        #expect(throws: Broken()) { try bus.publish(to: channel, payload: ["n": 1]) }
        #expect(after == 0 && bus.sequenceNumber(of: channel) == 1)
        bus.unsubscribe(failing)
        let receipt = try bus.publish(to: channel, payload: ["n": 2])
        #expect(receipt.envelope.sequenceNumber == 2 && after == 1)
    }

    @Test("a whole REC.IO message: data is the payload, its timestamp the event time, its metadata merged")
    func topicMessage() throws {
        let bus = BacktestBus(contracts: Self.contracts)
        let message: JSONValue = ["topic": "bt.t", "timestamp": "2026-01-27T10:30:05Z", "data": ["n": 7], "metadata": ["trigger": "fill"]]
        let receipt = try bus.publish(to: Self.channel("bt.t"), payload: message, metadata: ["session_id": "s1"])
        #expect(receipt.envelope.data == ["n": 7])
        #expect(receipt.envelope.eventTime == "2026-01-27T10:30:05Z")
        #expect(receipt.envelope.metadata["trigger"] == "fill" && receipt.envelope.metadata["session_id"] == "s1")
    }
}
