import JSONSchema
import Switchyard

/// The state of the simulated trading stack, advanced one step at a time: a value type with no
/// I/O, so the same seed gives the same payloads. ``DemoStack`` publishes what ``step(at:)`` returns.
struct DemoSimulation: Sendable {
    let configuration: DemoStack.Configuration
    var random: DemoRandom
    var steps = 0
    var btcPrice = 104_250.0
    /// The last minute of BTC prices, oldest first, for `change_1m` and `volatility`.
    var btcHistory: [Double] = []
    var equities: [(symbol: String, price: Double)] = [("AAPL", 150.25), ("MSFT", 402.10), ("NVDA", 135.40)]
    var equityPositions: [String: Int] = [:]
    var openOrders: [Order] = []
    var positions: [Position.Key: Position] = [:]
    var accounts: [String: Account] = [:]
    var marks: [String: Double] = [:]
    var orderCount = 0
    var fillCount = 0
    var checkCount = 0
    var alertCount = 0

    /// The simulated services: each sends heartbeats under its own name.
    static let services = ["btc_price_watchdog", "market_data_service", "trade_manager", "trade_executor", "risk_engine", "kalshi_watchdog"]
    static let users = ["user_0001", "user_0002", "user_0003"]

    init(configuration: DemoStack.Configuration, seed: UInt64) {
        self.configuration = configuration
        self.random = DemoRandom(seed: seed)
    }

    /// Advances the simulation by one tick and returns the events it published, in order.
    mutating func step(at now: Timestamp) -> [PublishRequest] {
        steps += 1
        var events: [PublishRequest] = []
        events.append(btcTick(at: now))
        events.append(equityTick(at: now))
        events += trade(at: now)
        if steps % configuration.steps(per: .seconds(5)) == 0 { events += strategyRun(at: now) }
        if steps == 1 || steps % configuration.steps(per: configuration.heartbeatInterval) == 0 { events += heartbeats(at: now) }
        let firstAlert = configuration.steps(per: .seconds(3))
        if steps == firstAlert || (steps > firstAlert && (steps - firstAlert) % configuration.steps(per: configuration.alertInterval) == 0) {
            events.append(watchdogAlert(at: now))
        }
        return events
    }

    // MARK: Market data

    mutating func btcTick(at now: Timestamp) -> PublishRequest {
        btcPrice = max(1000, btcPrice * (1 + random.gaussian() * 0.00005))
        btcHistory.append(btcPrice)
        if btcHistory.count > configuration.steps(per: .seconds(60)) { btcHistory.removeFirst() }
        let spread = max(0.5, (btcPrice * 0.00001).rounded())
        var returns: [Double] = []
        for index in btcHistory.indices.dropFirst() { returns.append(btcHistory[index] / btcHistory[index - 1] - 1) }
        let variance = returns.isEmpty ? 0 : returns.map { $0 * $0 }.reduce(0, +) / Double(returns.count)
        let stepsPerYear = 365.0 * 24 * 3600 / configuration.tickSeconds
        let volatility = min(10, (variance * stepsPerYear).squareRoot())
        let payload: JSONObject = [
            "symbol": "BTC-USD", "price": .double(Self.cents(btcPrice)),
            "bid": .double(Self.cents(btcPrice - spread / 2)), "ask": .double(Self.cents(btcPrice + spread / 2)),
            "volume_24h": .double(Self.cents(18_000 + Double(steps % 1000))),
            "change_1m": .double(Self.rounded((btcPrice / (btcHistory.first ?? btcPrice) - 1) * 100, places: 4)),
            "volatility": .double(Self.rounded(volatility, places: 4)), "volatility_window_s": 60,
            "source": "coinbase", "timestamp": .string(now.description),
        ]
        return PublishRequest(channel: DemoChannels.btcPrice, payload: .object(payload), source: "btc_price_watchdog")
    }

    mutating func equityTick(at now: Timestamp) -> PublishRequest {
        let index = steps % equities.count
        equities[index].price = max(1, equities[index].price * (1 + random.gaussian() * 0.0003))
        let symbol = equities[index].symbol
        let payload: JSONObject = [
            "event_type": "price.updated", "symbol": .string(symbol),
            "price": .string(Self.decimal(equities[index].price)), "timestamp": .string(now.description),
        ]
        return PublishRequest(channel: DemoChannels.priceUpdated(symbol), payload: .object(payload), source: "market_data_service")
    }

    /// The equity strategy's run: an `orders.executed` report and one `positions.updated` per fill.
    mutating func strategyRun(at now: Timestamp) -> [PublishRequest] {
        guard random.chance(0.7) else { return [] }
        var executions: [JSONValue] = []
        var updates: [PublishRequest] = []
        var accepted = 0
        for _ in 0..<(1 + Int(random.next() % 3)) {
            let (symbol, price) = equities[Int(random.next() % UInt64(equities.count))]
            let quantity = 10 * (1 + Int(random.next() % 20))
            let held = equityPositions[symbol, default: 0]
            let buying = held <= 0 || random.chance(0.5)
            let rejected = random.chance(0.1)
            var execution: JSONObject = [
                "client_order_id": .string("alpha_baseline-\(steps)-\(symbol)"), "symbol": .string(symbol),
                "action": .string(buying ? "buy" : "sell"), "quantity": .int(Int64(quantity)),
                "price": .string(Self.decimal(price)), "status": .string(rejected ? "rejected" : "filled"),
            ]
            if rejected {
                execution["reject_reason"] = "insufficient buying power"
            } else {
                accepted += 1
                let change = buying ? quantity : -min(quantity, held)
                equityPositions[symbol] = held + change
                updates.append(PublishRequest(channel: DemoChannels.positionsUpdated, payload: [
                    "event_type": "positions.updated", "timestamp": .string(now.description), "symbol": .string(symbol),
                    "action": "fill", "qty_change": .int(Int64(change)), "new_qty": .int(Int64(held + change)),
                    "price": .string(Self.decimal(price)), "strategy_id": "alpha_baseline",
                ], source: "execution_gateway"))
            }
            executions.append(.object(execution))
        }
        let report: JSONObject = [
            "event_type": "orders.executed", "timestamp": .string(now.description), "run_id": .string(random.uuid()),
            "strategy_id": "alpha_baseline", "num_orders": .int(Int64(executions.count)),
            "num_accepted": .int(Int64(accepted)), "num_rejected": .int(Int64(executions.count - accepted)),
            "executions": .array(executions),
        ]
        return [PublishRequest(channel: DemoChannels.ordersExecuted, payload: .object(report), source: "execution_gateway")] + updates
    }

    // MARK: Formatting

    static func rounded(_ value: Double, places: Int) -> Double {
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        return (value * scale).rounded() / scale
    }

    static func cents(_ value: Double) -> Double { rounded(value, places: 2) }

    /// A positive price as a plain decimal string with two places (`150.25`), as the signal
    /// service's contracts want it.
    static func decimal(_ value: Double) -> String {
        let cents = Int64((max(0, value) * 100).rounded())
        let fraction = cents % 100
        return "\(cents / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
