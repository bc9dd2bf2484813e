import Logging
import ServiceLifecycle
import Switchyard

/// A small simulated trading stack on a router, for `switchyard serve --demo`: a BTC price feed
/// (`market_data:btc_price`), equity prices (`price.updated.AAPL`, `.MSFT`, `.NVDA`), orders,
/// fills, cancels, positions and P&L (`trades:*`), an equity strategy (`orders.executed`,
/// `positions.updated`), heartbeats of six services (`system:health_check`) and alerts
/// (`system:error_alert`). Every payload satisfies its shipped contract.
///
/// It also runs two consumer groups: `ledger` on the fills and executions, which keeps up, and
/// `risk` on `trades:*`, which refuses orders over ``Configuration/riskLimit`` and sometimes
/// times out, so retries, lag and dead letters appear.
///
/// A `Service`: run it in the process's `ServiceGroup` next to the router; it stops on
/// cancellation or graceful shutdown, and starts nothing in `init`.
///
/// ```swift
/// let demo = DemoStack(router: router, configuration: .init(seed: 42), logger: logger)
/// ```
public final class DemoStack: Service {
    /// How the simulation runs.
    public let configuration: Configuration
    let router: Switchyard.Router
    let logger: Logger

    /// The group that keeps up with fills and executions.
    public static let ledgerGroup = "ledger"
    /// The group that refuses large orders and sometimes times out.
    public static let riskGroup = "risk"

    /// Creates the stack; starts nothing.
    /// - Parameters:
    ///   - router: Where the simulated services publish and the groups consume.
    ///   - configuration: Seed, pace and failure rates.
    ///   - logger: The caller's logger.
    public init(router: Switchyard.Router, configuration: Configuration = Configuration(), logger: Logger) {
        self.router = router
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs the simulated services and the two groups until cancelled or a graceful shutdown.
    /// - Throws: ``Switchyard/SwitchyardError`` when the engine cannot set a group up.
    public func run() async throws {
        let seed = configuration.seed ?? UInt64.random(in: .min ... .max)
        logger.info("demo trading stack running", metadata: ["seed": "\(seed)"])
        let risk = DemoRiskCheck(configuration: configuration, seed: seed &+ 1, router: router, logger: logger)
        let riskOptions = ConsumerOptions(
            batchSize: 1, maxDeliveries: configuration.maxDeliveries,
            backoff: .init(initial: .milliseconds(200), multiplier: 2, maximum: .seconds(2)))
        try await cancelWhenGracefulShutdown {
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask {
                    try await self.router.consume(
                        group: Self.riskGroup, patterns: [try ChannelPattern("trades:*")], consumer: "risk_engine-1", options: riskOptions
                    ) { envelope in try await risk.check(envelope) }
                }
                tasks.addTask {
                    try await self.router.consume(
                        group: Self.ledgerGroup, patterns: [try ChannelPattern(DemoChannels.orderFilled.rawValue), try ChannelPattern(DemoChannels.ordersExecuted.rawValue)],
                        consumer: "ledger-1") { _ in }
                }
                tasks.addTask { await self.simulate(seed: seed) }
                try await tasks.waitForAll()
            }
        }
    }

    /// Steps the simulation every tick and publishes each step's events as one batch.
    func simulate(seed: UInt64) async {
        var simulation = DemoSimulation(configuration: configuration, seed: seed)
        while !Task.isCancelled {
            let events = simulation.step(at: router.now)
            do { try await router.publish(events) } catch {
                logger.error("demo events refused", metadata: ["error": "\(error)"])
            }
            do { try await Task.sleep(for: configuration.tick) } catch { return }
        }
    }
}
