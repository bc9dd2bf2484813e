import JSONSchema

/// Seed 001's synchronous backtest mode as a function call: a publish checks the payload against
/// its channel's contract, stamps the envelope and calls every matching handler before it returns.
///
/// There is no engine, no task and no lock on the way: nothing is stored, so there is nothing to
/// replay, retry or trim, and a handler runs on the caller's thread, in the order the handlers
/// subscribed. What holds is what a backtest can observe: the contract checks of the live
/// ``Router`` (size, credential fields, the compiled schema, REC.IO's whole-message shape), the
/// envelope with a seeded UUIDv7 id and the backtest clock's time, a gap-free sequence per
/// channel from 1, and an event id given twice within the dedup window handled once. The same
/// inputs give the same envelopes, byte for byte.
///
/// ```swift
/// let bus = BacktestBus(contracts: try .shipped(), configuration: .init(source: "position_monitor", seed: 42))
/// bus.subscribe(try ChannelPattern("position:*")) { envelope in risk.onPosition(envelope.data) }
/// for tick in history {
///     bus.now = tick.time
///     try bus.publish(to: positionUpdated, payload: tick.position)
/// }
/// ```
///
/// A bus belongs to one thread (it is not `Sendable`). Use a ``Router`` in backtest mode instead
/// when the backtest needs consumer groups with retries and dead letters, or a Redis engine.
public final class BacktestBus {
    /// How a bus stamps and checks events.
    public struct Configuration: Sendable {
        /// The envelope `source`.
        public var source: String
        /// The backtest clock's first time.
        public var start: Timestamp
        /// The seed of the event ids' random bits.
        public var seed: UInt64
        /// How long an event id given to ``BacktestBus/publish(to:payload:metadata:eventID:)``
        /// is remembered, on the backtest clock.
        public var dedupWindow: Duration
        /// Accept channels no contract covers (with the default policy for their name).
        public var allowsUnknownChannels: Bool

        /// Creates a configuration.
        public init(
            source: String = "backtest", start: Timestamp = Timestamp(unixMilliseconds: 1_767_225_600_000), seed: UInt64 = 0,
            dedupWindow: Duration = .seconds(300), allowsUnknownChannels: Bool = false
        ) {
            self.source = source
            self.start = start
            self.seed = seed
            self.dedupWindow = dedupWindow
            self.allowsUnknownChannels = allowsUnknownChannels
        }
    }

    /// What a publish did.
    public struct Receipt: Sendable, Hashable {
        /// The event as the handlers received it; for a duplicate, the first publish's.
        public let envelope: Envelope
        /// Whether the event id was published within the dedup window before (the handlers did
        /// not run again).
        public let duplicate: Bool
    }

    /// A subscription, to end it with ``unsubscribe(_:)``.
    public struct Subscription: Hashable, Sendable {
        let id: Int
    }

    /// The backtest clock: every envelope's `timestamp`. Set it to each simulated event's time;
    /// it may stand still (ids stay ordered) but should not go back.
    public var now: Timestamp

    private let configuration: Configuration
    private let payloadGuard: PayloadGuard
    private var ids: SeededEventIDs
    private var handlers: [(id: Int, pattern: ChannelPattern, handle: (Envelope) throws -> Void)] = []
    private var nextSubscription = 0
    /// Per channel seen: its contract and policy, its last sequence number and the handlers that
    /// match it (in order).
    private var channels: [ChannelName: Route] = [:]
    private final class Route {
        let contract: Contract?
        let policy: ChannelPolicy
        var sequence: Int64 = 0
        var handlers: [(Envelope) throws -> Void]

        init(contract: Contract?, policy: ChannelPolicy, handlers: [(Envelope) throws -> Void]) {
            self.contract = contract
            self.policy = policy
            self.handlers = handlers
        }
    }
    private var remembered: [EventID: (receipt: Receipt, expires: Int64)] = [:]
    private var pruneAt = 1024

    /// Creates a bus.
    /// - Parameters:
    ///   - contracts: The contracts payloads are checked against.
    ///   - configuration: Source, clock start, seed, dedup window.
    public init(contracts: ContractRegistry, configuration: Configuration = Configuration()) {
        self.configuration = configuration
        self.payloadGuard = PayloadGuard(registry: contracts, allowsUnknownChannels: configuration.allowsUnknownChannels)
        self.ids = SeededEventIDs(seed: configuration.seed)
        self.now = configuration.start
    }

    /// Moves the backtest clock forward.
    public func advance(by duration: Duration) {
        now = Timestamp(unixMilliseconds: now.unixMilliseconds + duration.milliseconds)
    }

    /// Calls `handler` with every event published from now on to a channel `pattern` matches.
    /// - Returns: The subscription, for ``unsubscribe(_:)``.
    @discardableResult
    public func subscribe(_ pattern: ChannelPattern, _ handler: @escaping (Envelope) throws -> Void) -> Subscription {
        nextSubscription += 1
        handlers.append((nextSubscription, pattern, handler))
        rematch()
        return Subscription(id: nextSubscription)
    }

    /// Stops calling a subscription's handler.
    public func unsubscribe(_ subscription: Subscription) {
        handlers.removeAll { $0.id == subscription.id }
        rematch()
    }

    /// Checks the payload, stamps the envelope and calls the matching handlers, in the order they
    /// subscribed, before returning.
    /// - Parameters:
    ///   - channel: The channel.
    ///   - payload: A JSON object satisfying the channel's contract (or a whole REC.IO message, as
    ///     ``Router/publish(to:payload:metadata:eventID:source:state:)`` takes it).
    ///   - metadata: Trace context, session, user.
    ///   - eventID: The event id; a new seeded UUIDv7 when `nil`. The same id within the dedup
    ///     window is handled once.
    /// - Returns: The envelope and whether it was a duplicate.
    /// - Throws: ``SwitchyardError`` (`unknown_channel`, `payload_too_large`, `validation_error`)
    ///   before any handler runs and without taking a sequence number; or the first error a
    ///   handler throws, unchanged, after the event took its number (the handlers after it do not run).
    @discardableResult
    public func publish(to channel: ChannelName, payload: JSONValue, metadata: JSONObject = [:], eventID: EventID? = nil) throws -> Receipt {
        let route = try channels[channel] ?? route(channel)
        var data = payload
        var merged = metadata
        var eventTime: String?
        if metadata.isEmpty, case .object(let object) = payload, !TopicMessage.isTopicMessage(object) {
            try payloadGuard.checkPlain(payload, channel: channel, contract: route.contract, policy: route.policy)
        } else {
            let checked = try payloadGuard.check(channel: channel, payload: payload)
            merged = checked.metadata(merging: metadata)
            try payloadGuard.checkMetadata(merged, channel: channel, with: checked)
            (data, eventTime) = (checked.payload, checked.eventTime)
        }
        let time = now
        if let eventID, let earlier = remembered[eventID], earlier.expires > time.unixMilliseconds {
            return Receipt(envelope: earlier.receipt.envelope, duplicate: true)
        }
        route.sequence += 1
        let envelope = Envelope(
            eventID: eventID ?? ids.next(now: time.unixMilliseconds), channel: channel,
            sequenceNumber: route.sequence, timestamp: time, source: configuration.source,
            schema: route.contract?.id ?? "", data: data, metadata: merged, eventTime: eventTime)
        let receipt = Receipt(envelope: envelope, duplicate: false)
        if let eventID { remember(eventID, receipt, at: time) }
        for handle in route.handlers {
            try handle(envelope)
        }
        return receipt
    }

    /// The last sequence number published on `channel` (0 before the first).
    public func sequenceNumber(of channel: ChannelName) -> Int64 {
        channels[channel]?.sequence ?? 0
    }

    private func route(_ channel: ChannelName) throws(SwitchyardError) -> Route {
        let (contract, policy) = try payloadGuard.resolve(channel)
        let route = Route(contract: contract, policy: policy, handlers: matching(channel))
        channels[channel] = route
        return route
    }

    private func matching(_ channel: ChannelName) -> [(Envelope) throws -> Void] {
        handlers.filter { $0.pattern.matches(channel) }.map(\.handle)
    }

    private func rematch() {
        for (channel, route) in channels { route.handlers = matching(channel) }
    }

    private func remember(_ eventID: EventID, _ receipt: Receipt, at time: Timestamp) {
        remembered[eventID] = (receipt, time.unixMilliseconds + configuration.dedupWindow.milliseconds)
        guard remembered.count >= pruneAt else { return }
        remembered = remembered.filter { $0.value.expires > time.unixMilliseconds }
        pruneAt = max(1024, remembered.count * 2)
    }
}
