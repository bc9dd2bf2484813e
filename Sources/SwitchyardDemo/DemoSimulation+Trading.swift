import JSONSchema
import Switchyard

extension DemoSimulation {
    /// An open order on a Kalshi BTC market.
    struct Order: Sendable {
        var id: String
        var user: String
        var market: String
        var side: String
        var outcome: String
        var price: Double
        var remaining: Int
        var filled = 0
        var placedAt: Int
        /// Over the risk limit: the trade manager cancels it instead of letting it fill.
        var isLarge: Bool
    }

    /// One user's holding of one outcome of one market.
    struct Position: Sendable {
        struct Key: Hashable, Sendable {
            var user: String
            var market: String
            var outcome: String
        }

        var quantity = 0
        var averagePrice = 0.0
        var realized = 0.0
        var fees = 0.0
    }

    /// One user's account totals.
    struct Account: Sendable {
        var realized = 0.0
        var fees = 0.0
        var wins = 0
        var closes = 0
    }

    /// One step of the order flow: maybe a new order, then fills and cancels of the open ones,
    /// each fill followed by the position and the account P&L it changes.
    mutating func trade(at now: Timestamp) -> [PublishRequest] {
        var events: [PublishRequest] = []
        if random.chance(0.3) { events.append(newOrder(at: now)) }
        var stillOpen: [Order] = []
        for var order in openOrders {
            if order.isLarge || random.chance(0.03) {
                if order.isLarge && steps - order.placedAt < 2 {
                    stillOpen.append(order)
                    continue
                }
                events.append(cancel(order, reason: order.isLarge ? "risk_limit" : "user_requested", at: now))
                continue
            }
            guard steps > order.placedAt, random.chance(0.35) else {
                stillOpen.append(order)
                continue
            }
            let quantity = order.remaining <= 5 || random.chance(0.6) ? order.remaining : 1 + Int(random.next() % UInt64(order.remaining - 1))
            order.remaining -= quantity
            order.filled += quantity
            events += fill(order, quantity: quantity, at: now)
            if order.remaining > 0 { stillOpen.append(order) }
        }
        openOrders = stillOpen
        return events
    }

    mutating func newOrder(at now: Timestamp) -> PublishRequest {
        orderCount += 1
        let isLarge = random.chance(configuration.largeOrderRate)
        let quantity = isLarge
            ? configuration.riskLimit + 1 + Int(random.next() % UInt64(max(1, configuration.riskLimit)))
            : 1 + Int(random.next() % 100)
        let strike = Int((btcPrice / 250).rounded()) * 250 + 250 * (Int(random.next() % 3) - 1)
        let market = "KXBTCD-DEMO-T\(strike - 1).99"
        let mark = marks[market] ?? Self.cents(0.2 + random.unit() * 0.6)
        let price = min(0.99, max(0.01, Self.cents(mark + random.gaussian() * 0.02)))
        let order = Order(
            id: "ord_\(100_000 + orderCount)", user: Self.users[Int(random.next() % UInt64(Self.users.count))], market: market,
            side: random.chance(0.65) ? "buy" : "sell", outcome: random.chance(0.5) ? "yes" : "no", price: price,
            remaining: quantity, placedAt: steps, isLarge: isLarge)
        openOrders.append(order)
        let payload: JSONObject = [
            "order_id": .string(order.id), "user_id": .string(order.user), "market_id": .string(market),
            "side": .string(order.side), "outcome": .string(order.outcome), "quantity": .int(Int64(quantity)),
            "price": .double(price), "order_type": "limit", "time_in_force": "gtc", "status": "pending",
            "strategy": "momentum_v2", "created_at": .string(now.description),
        ]
        return PublishRequest(channel: DemoChannels.newOrder, payload: .object(payload), source: "trade_manager")
    }

    func cancel(_ order: Order, reason: String, at now: Timestamp) -> PublishRequest {
        let payload: JSONObject = [
            "order_id": .string(order.id), "user_id": .string(order.user), "market_id": .string(order.market),
            "cancelled_quantity": .int(Int64(order.remaining)), "filled_quantity": .int(Int64(order.filled)),
            "reason": .string(reason), "cancelled_by": .string(reason == "risk_limit" ? "risk_engine" : "trade_manager"),
            "cancel_time": .string(now.description),
        ]
        return PublishRequest(channel: DemoChannels.orderCancelled, payload: .object(payload), source: "trade_executor")
    }

    /// A fill, the position it changes, and the user's account P&L after it.
    mutating func fill(_ order: Order, quantity: Int, at now: Timestamp) -> [PublishRequest] {
        fillCount += 1
        let commission = Self.cents(0.07 * Double(quantity) * order.price * (1 - order.price))
        marks[order.market] = order.price
        let fill: JSONObject = [
            "order_id": .string(order.id), "fill_id": .string("fill_\(200_000 + fillCount)"),
            "filled_quantity": .int(Int64(quantity)), "filled_price": .double(order.price), "fill_time": .string(now.description),
            "commission": .double(commission), "user_id": .string(order.user), "market_id": .string(order.market),
            "side": .string(order.side), "outcome": .string(order.outcome), "remaining_quantity": .int(Int64(order.remaining)),
            "is_taker": .bool(random.chance(0.5)),
        ]
        let key = Position.Key(user: order.user, market: order.market, outcome: order.outcome)
        var position = positions[key] ?? Position()
        var account = accounts[order.user] ?? Account()
        position.fees += commission
        account.fees += commission
        if order.side == "buy" {
            let total = position.quantity + quantity
            position.averagePrice = (position.averagePrice * Double(position.quantity) + order.price * Double(quantity)) / Double(total)
            position.quantity = total
        } else {
            let closed = min(quantity, position.quantity)
            let gain = (order.price - position.averagePrice) * Double(closed)
            position.realized += gain
            account.realized += gain
            if closed > 0 {
                account.closes += 1
                if gain > 0 { account.wins += 1 }
            }
            position.quantity -= closed
            if position.quantity == 0 { position.averagePrice = 0 }
        }
        positions[key] = position
        accounts[order.user] = account
        let mark = order.price
        let costBasis = position.averagePrice * Double(position.quantity)
        let update: JSONObject = [
            "user_id": .string(order.user), "market_id": .string(order.market), "outcome": .string(order.outcome),
            "quantity": .int(Int64(position.quantity)), "avg_entry_price": .double(Self.rounded(position.averagePrice, places: 4)),
            "mark_price": .double(mark), "cost_basis": .double(Self.cents(costBasis)),
            "market_value": .double(Self.cents(mark * Double(position.quantity))),
            "unrealized_pnl": .double(Self.cents(mark * Double(position.quantity) - costBasis)),
            "realized_pnl": .double(Self.cents(position.realized)), "fees_paid": .double(Self.cents(position.fees)),
            "status": .string(position.quantity > 0 ? "open" : "closed"), "trade_id": .string(order.id),
            "updated_at": .string(now.description),
        ]
        return [
            PublishRequest(channel: DemoChannels.orderFilled, payload: .object(fill), source: "trade_executor"),
            PublishRequest(channel: DemoChannels.positionUpdate, payload: .object(update), source: "trade_manager"),
            PublishRequest(channel: DemoChannels.pnlUpdate, payload: .object(pnl(for: order.user, account: account, at: now)), source: "trade_manager"),
        ]
    }

    /// The account-level P&L of a user, marking every open position at its market's last price.
    func pnl(for user: String, account: Account, at now: Timestamp) -> JSONObject {
        var unrealized = 0.0
        var open = 0
        let held = positions.filter { $0.key.user == user && $0.value.quantity > 0 }
            .sorted { ($0.key.market, $0.key.outcome) < ($1.key.market, $1.key.outcome) }
        for (key, position) in held {
            open += 1
            unrealized += ((marks[key.market] ?? position.averagePrice) - position.averagePrice) * Double(position.quantity)
        }
        var payload: JSONObject = [
            "user_id": .string(user), "scope": "account", "realized_pnl": .double(Self.cents(account.realized)),
            "unrealized_pnl": .double(Self.cents(unrealized)), "total_pnl": .double(Self.cents(account.realized + unrealized)),
            "fees_paid": .double(Self.cents(account.fees)),
            "account_balance": .double(Self.cents(max(0, 1000 + account.realized - account.fees))),
            "open_positions": .int(Int64(open)), "currency": "USD", "as_of": .string(now.description),
        ]
        if account.closes > 0 { payload["win_rate"] = .double(Self.rounded(Double(account.wins) / Double(account.closes), places: 4)) }
        return payload
    }
}
