import Switchyard

/// The channels the demo publishes to, all covered by the shipped contracts.
enum DemoChannels {
    static let btcPrice = try! ChannelName("market_data:btc_price")
    static let newOrder = try! ChannelName("trades:new_order")
    static let orderFilled = try! ChannelName("trades:order_filled")
    static let orderCancelled = try! ChannelName("trades:order_cancelled")
    static let positionUpdate = try! ChannelName("trades:position_update")
    static let pnlUpdate = try! ChannelName("trades:pnl_update")
    static let ordersExecuted = try! ChannelName("orders.executed")
    static let positionsUpdated = try! ChannelName("positions.updated")
    static let healthCheck = try! ChannelName("system:health_check")
    static let errorAlert = try! ChannelName("system:error_alert")

    static func priceUpdated(_ symbol: String) -> ChannelName {
        try! ChannelName("price.updated.\(symbol)")
    }
}
