import Foundation
import JSONSchema
import Logging
import Switchyard
import Testing

/// The payload types the SwitchyardContractsPlugin generated from the shipped contracts when this
/// target was built: that this file compiles is the first test.
@Suite("Generated Swift payload types")
struct GeneratedSwiftTests {
    let registry: ContractRegistry

    init() throws {
        registry = try ContractRegistry.shipped()
    }

    @Test("the plugin generated one type per shipped contract, carrying its channel, version and schema")
    func onePerContract() throws {
        let types = GeneratedContractPayloads.all
        #expect(types.count == registry.contracts.count)
        #expect(Set(types.map { $0.contractChannel }) == Set(registry.contracts.map(\.channel.rawValue)))
        for type in types {
            let contract = try #require(registry.contracts.first { $0.channel.rawValue == type.contractChannel })
            #expect(type.contractVersion == contract.version)
            #expect(try JSONValue(parsing: type.contractSchema) == contract.schema, "\(type)")
            #expect(type.contractID == contract.id)
            // A contract for one channel gives a ChannelPayload, published without naming the channel.
            #expect((type is any ChannelPayload.Type) == contract.channel.isLiteral, "\(type)")
        }
    }

    @Test("every valid example decodes, encodes to a payload its contract accepts, and comes back unchanged")
    func examplesRoundTrip() throws {
        var unchanged = 0
        for type in GeneratedContractPayloads.all {
            let contract = try #require(registry.contracts.first { $0.channel.rawValue == type.contractChannel })
            #expect(!contract.validExamples.isEmpty)
            for example in contract.validExamples {
                let encoded = try Self.roundTrip(type, example)
                try contract.validate(encoded)
                // Decoding the encoded payload and encoding it again changes nothing.
                #expect(try Self.roundTrip(type, encoded) == encoded, "\(type)")
                // Members the schema does not declare are not kept; an example without any comes back equal.
                if Self.declaresEveryMember(example, schema: contract.schema) {
                    #expect(encoded == example, "\(type)")
                    unchanged += 1
                }
            }
        }
        #expect(unchanged >= registry.contracts.count / 2)
    }

    @Test("an invalid example whose member has another JSON type than the schema's does not decode")
    func mistypedMemberIsRefused() throws {
        let payload: JSONValue = [
            "order_id": 1, "fill_id": "fill_789", "filled_quantity": 10, "filled_price": 0.65, "fill_time": "2025-01-27T10:30:03Z",
        ]
        let error = try #require(throws: SwitchyardError.self) { try TradesOrderFilled(json: payload) }
        #expect(error.code == .validationError)
        #expect(error.details["invalid_fields"]?["order_id"] != nil)
        let missing = try #require(throws: SwitchyardError.self) { try PositionEvent(json: ["symbol": "AAPL"]) }
        #expect(missing.details["missing_fields"]?.arrayValue?.isEmpty == false)
    }

    @Test("a typed payload publishes on its channel, and the stored event decodes back to the same value")
    func publishTyped() async throws {
        let router = makeRouter()
        let filled = TradesOrderFilled(
            orderId: "ord_1", fillId: "fill_1", filledQuantity: 10, filledPrice: 0.65, fillTime: "2026-01-27T10:30:03Z", commission: 0.1)
        let receipt = try await router.publish(filled)
        #expect(receipt.channel.rawValue == "trades:order_filled")
        let position = PositionEvent(
            eventType: .positionsUpdated, timestamp: "2026-01-20T14:30:15+00:00", symbol: "AAPL", action: .partialFill, qtyChange: -5,
            newQty: 105, price: "150.25", strategyId: "alpha")
        try await router.publish(position)

        let stored = try await router.read(TradesOrderFilled.channelName(), from: .beginning, limit: 10)
        #expect(stored.count == 1)
        #expect(try stored[0].envelope.payload(as: TradesOrderFilled.self) == filled)
        // Members go on the wire in the schema's order.
        #expect(stored[0].envelope.data.objectValue?.keys == ["order_id", "fill_id", "filled_quantity", "filled_price", "fill_time", "commission"])
        #expect(stored[0].envelope.data == ["order_id": "ord_1", "fill_id": "fill_1", "filled_quantity": 10, "filled_price": 0.65,
            "fill_time": "2026-01-27T10:30:03Z", "commission": 0.1])
        let positions = try await router.read(PositionEvent.channelName(), from: .beginning, limit: 10)
        #expect(try positions.map { try $0.envelope.payload(as: PositionEvent.self) } == [position])
        #expect(positions[0].envelope.data["action"] == "partial_fill")
        #expect(positions[0].envelope.data["event_type"] == "positions.updated")
    }

    @Test("the schema check still runs on a typed payload: a rule the type cannot express refuses it and nothing is stored")
    func schemaCheckStillRuns() async throws {
        let router = makeRouter()
        // `price` is a String in Swift; the schema also asks for a decimal pattern.
        let position = PositionEvent(
            timestamp: "2026-01-20T14:30:15+00:00", symbol: "AAPL", action: .buy, qtyChange: 1, newQty: 1, price: "about 150",
            strategyId: "alpha")
        let error = try await #require(throws: SwitchyardError.self) { try await router.publish(position) }
        #expect(error.code == .validationError)
        #expect(error.details["invalid_fields"]?["price"] != nil)
        #expect(try await router.read(PositionEvent.channelName(), from: .beginning, limit: 10).isEmpty)
        // The `date-time` format too.
        let late = PositionEvent(
            timestamp: "yesterday", symbol: "AAPL", action: .buy, qtyChange: 1, newQty: 1, price: "150", strategyId: "alpha")
        await #expect(throws: SwitchyardError.self) { try await router.publish(late) }
    }

    @Test("a pattern contract's payload publishes to a channel its pattern covers, and is refused elsewhere")
    func patternPayload() async throws {
        let router = makeRouter()
        let channel = try ChannelName("price.updated.AAPL")
        let text = PriceUpdateEvent(eventType: .priceUpdated, symbol: "AAPL", price: .string("150.255"), timestamp: "2026-01-20T14:30:15Z")
        let number = PriceUpdateEvent(symbol: "AAPL", price: .number(150.5), timestamp: "2026-01-20T14:30:16Z")
        try await router.publish(text, to: channel)
        try await router.publish(number, to: channel)
        let stored = try await router.read(channel, from: .beginning, limit: 10)
        #expect(stored.map(\.envelope.data["price"]) == [.string("150.255"), .double(150.5)])
        #expect(try stored.map { try $0.envelope.payload(as: PriceUpdateEvent.self) } == [text, number])

        let elsewhere = try ChannelName("positions.updated")
        let error = try await #require(throws: SwitchyardError.self) { try await router.publish(number, to: elsewhere) }
        #expect(error.code == .invalidChannel)
        #expect(error.details["contract"] == "price.updated.*")
    }

    @Test("typed payloads publish as one batch through PublishRequest")
    func batch() async throws {
        let router = makeRouter()
        let first = TradesOrderFilled(orderId: "ord_1", filledQuantity: 1)
        let second = TradesOrderFilled(orderId: "ord_2", filledQuantity: 2)
        let quote = PriceUpdateEvent(symbol: "MSFT", price: .number(410), timestamp: "2026-01-20T14:30:16Z")
        let receipts = try await router.publish([
            try PublishRequest(first), try PublishRequest(second), try PublishRequest(quote, to: ChannelName("price.updated.MSFT")),
        ])
        #expect(receipts.map(\.sequenceNumber) == [1, 2, 1])
        let stored = try await router.read(TradesOrderFilled.channelName(), from: .beginning, limit: 10)
        #expect(try stored.map { try $0.envelope.payload(as: TradesOrderFilled.self) } == [first, second])
        // Members left nil are left out, not written as null.
        #expect(stored[0].envelope.data == ["order_id": "ord_1", "filled_quantity": 1])
    }

    @Test("a number JSON cannot hold is refused before anything is sent, naming the member")
    func nonFiniteNumber() async throws {
        let router = makeRouter()
        let error = try await #require(throws: SwitchyardError.self) {
            try await router.publish(TradesOrderFilled(orderId: "ord_1", filledPrice: .infinity))
        }
        #expect(error.code == .validationError)
        #expect(error.details["invalid_fields"]?["filled_price"] != nil)
    }

    private func makeRouter() -> Router {
        Router(
            contracts: registry, engine: EmbeddedEngine(logger: Logger(label: "test.codegen")),
            configuration: RouterConfiguration(source: "tests", enforcesRateLimits: false), logger: Logger(label: "test.codegen"))
    }

    /// Decodes `example` as `type` and encodes it again.
    static func roundTrip(_ type: any ContractPayload.Type, _ example: JSONValue) throws -> JSONValue {
        try type.init(json: example).jsonValue()
    }

    /// Whether every object member of `value` is declared by the schema's `properties`, all the way down.
    static func declaresEveryMember(_ value: JSONValue, schema: JSONValue) -> Bool {
        switch value {
        case .object(let object):
            guard case .object(let properties)? = schema["properties"] else { return true }
            return object.members.allSatisfy { member in
                guard let child = properties[member.key] else { return false }
                return declaresEveryMember(member.value, schema: child)
            }
        case .array(let elements):
            return elements.allSatisfy { declaresEveryMember($0, schema: schema["items"] ?? [:]) }
        default:
            return true
        }
    }
}
