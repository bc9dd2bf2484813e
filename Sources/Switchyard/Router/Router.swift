import JSONSchema
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// The Switchyard API: publish, subscribe, consume in groups, replay, latest state and dead
/// letters, over any ``Engine``.
///
/// A router is a `Service`: its background work (the engine's) runs in ``run()``, never in `init`.
/// Publishing, reading and consuming work whether or not ``run()`` is running.
///
/// ```swift
/// let engine = EmbeddedEngine(logger: logger)
/// let router = Router(contracts: try .shipped(), engine: engine,
///                     configuration: RouterConfiguration(source: "btc_price_watchdog"), logger: logger)
/// let receipt = try await router.publish(to: try ChannelName("market_data:btc_price"), payload: tick)
/// ```
public final class Router: Service {
    /// The engine events are stored in.
    public let engine: any Engine
    /// How the router runs.
    public let configuration: RouterConfiguration
    /// The contracts in force.
    public let contracts: ContractRegistry
    let payloadGuard: PayloadGuard
    let synchronous: (any SynchronousEngine)?
    let logger: Logger
    let metrics: RouterMetrics
    let seededIDs: Mutex<SeededEventIDs?>
    let usesSeededIDs: Bool
    let inlineConsumers = Mutex<[(token: Int, handler: GroupHandler)]>([])
    let signer: EventSigner?
    let sealer: FieldSealer?
    let nextInlineToken = Atomic<Int>(0)
    /// The named state keys (``StateStore``): `router.state.set(key, value)`, `router.state.get(key)`.
    public let state: StateStore

    /// Creates a router; starts nothing.
    /// - Parameters:
    ///   - contracts: The contracts publishes are checked against.
    ///   - engine: Where events are stored.
    ///   - configuration: Source name, mode, policies, clock and ids.
    ///   - logger: The caller's logger.
    public init(contracts: ContractRegistry, engine: any Engine, configuration: RouterConfiguration, logger: Logger) {
        self.contracts = contracts
        self.engine = engine
        self.synchronous = engine as? any SynchronousEngine
        self.configuration = configuration
        self.payloadGuard = PayloadGuard(registry: contracts, allowsUnknownChannels: configuration.allowsUnknownChannels)
        self.logger = logger
        self.metrics = RouterMetrics(factory: configuration.metricsFactory ?? MetricsSystem.factory, contracts: contracts)
        self.signer = configuration.signingKeys.map(EventSigner.init)
        self.sealer = configuration.encryptionKeys.map(FieldSealer.init)
        self.state = StateStore(
            keys: configuration.stateKeys, engine: engine, payloadGuard: payloadGuard,
            metrics: StateMetrics(factory: configuration.metricsFactory ?? MetricsSystem.factory))
        if case .seeded(let seed) = configuration.eventIDs {
            seededIDs = Mutex(SeededEventIDs(seed: seed))
            usesSeededIDs = true
        } else {
            seededIDs = Mutex(nil)
            usesSeededIDs = false
        }
    }

    /// Runs the engine's background work until the task is cancelled or a graceful shutdown.
    public func run() async throws {
        try await cancelWhenGracefulShutdown {
            try await self.engine.run()
        }
    }

    /// The time on the router's clock.
    public var now: Timestamp { configuration.clock.now() }

    /// The newest event of a channel, or `nil` when none is retained (it expires with the
    /// channel's retention).
    public func latest(_ channel: ChannelName) async throws(SwitchyardError) -> Envelope? {
        try await engine.latest(channel)
    }

    /// The channel's state in the engine: length, sequence numbers, groups, hard-cap trims.
    public func info(_ channel: ChannelName) async throws(SwitchyardError) -> ChannelInfo {
        try await engine.info(channel)
    }

    /// The policy in force for a channel: the first matching override, else the contract's.
    func policy(for channel: ChannelName, checked: CheckedPayload) -> ChannelPolicy {
        for override in configuration.policyOverrides where override.pattern.matches(channel) {
            return override.policy
        }
        return checked.policy
    }

    func nextEventID(at now: Timestamp) -> EventID {
        guard usesSeededIDs else { return EventID.generate() }
        return seededIDs.withLock { $0!.next(now: now.unixMilliseconds) }
    }
}
