import NIOCore
import RESP

/// The subscriptions of one client and the lifecycle of its subscription connection, free of I/O.
///
/// ``RedisSubscriber`` keeps it behind a lock, feeds it events (a subscription comes or goes, the
/// connection is up, resubscribed or lost, a waiter times out, shutdown) and carries out the actions
/// it returns: subscribe or unsubscribe on a connection, resume or fail a waiter, wake the run loop,
/// close a connection. Whether the subscriptions are live, and who waits for that, is decided here.
struct RedisSubscriberState<Connection: Sendable, ReadyWaiter: Sendable, RunLoopWaiter: Sendable> {
    struct Entry {
        var targets: [RedisSubscriptionTarget]
        var continuation: AsyncThrowingStream<RedisSubscription.Event, any Error>.Continuation
        var dropped = 0
        var isConfirmed = false
    }

    /// The subscription connection.
    enum Link {
        /// None: the run loop is waiting for a first subscription, connecting, or backing off.
        case disconnected
        /// Connected, and subscribing to every target again; new subscriptions subscribe on it too.
        case resubscribing(Connection)
        /// Connected, and every target confirmed by the server.
        case ready(Connection)
    }

    enum SubscribeAction: Sendable {
        /// Subscribe to `new` on the connection when there is one, else wait until the link is
        /// ready; wake the run loop when it is parked.
        case subscribe(id: Int, new: [RedisSubscriptionTarget], on: Connection?, wake: RunLoopWaiter?)
        case fail(RedisError)
    }

    enum ReadyAction: Sendable {
        /// The waiter is in line until the link is ready.
        case wait
        case resume
        case fail(RedisError)
    }

    enum UnsubscribeAction: Sendable {
        case none
        /// Tell the server nobody listens to these targets any more.
        case unsubscribe([RedisSubscriptionTarget], on: Connection)
    }

    enum RunLoopAction: Sendable {
        /// A subscription exists (or the client shut down): the run loop goes on at once.
        case proceed
        /// The run loop is parked until ``subscribe(_:continuation:)`` wakes it.
        case park
    }

    struct ShutdownAction: Sendable {
        /// Finish each with ``RedisError/Code/clientShutdown``.
        var subscriptions: [AsyncThrowingStream<RedisSubscription.Event, any Error>.Continuation]
        /// Fail each with ``RedisError/Code/clientShutdown``.
        var readyWaiters: [ReadyWaiter]
    }

    private(set) var entries: [Int: Entry] = [:]
    private(set) var index: [RedisSubscriptionTarget: Set<Int>] = [:]
    private var lastID = 0
    private(set) var link = Link.disconnected
    private var readyWaiters: [Int: ReadyWaiter] = [:]
    private var runLoopWaiter: RunLoopWaiter?
    private(set) var isShutdown = false
    /// Targets the server unsubscribed on its own (a cluster moved a shard channel's slot away):
    /// not unsubscribed again, which the server would refuse with `MOVED`.
    private var droppedByServer: Set<RedisSubscriptionTarget> = []

    /// The connection while there is one, ready or resubscribing.
    var connection: Connection? {
        switch self.link {
        case .disconnected: nil
        case .resubscribing(let connection), .ready(let connection): connection
        }
    }

    /// The connection once every target is confirmed on it; the health check pings only that one.
    var readyConnection: Connection? {
        if case .ready(let connection) = self.link { return connection }
        return nil
    }

    var waitingForReady: Int { self.readyWaiters.count }

    var allTargets: [RedisSubscriptionTarget] { Array(self.index.keys) }

    /// A new id for a subscription or a waiter.
    mutating func nextID() -> Int {
        self.lastID += 1
        return self.lastID
    }

    // MARK: subscriptions

    /// A caller subscribes: registers it, and says which targets nobody was subscribed to yet.
    mutating func subscribe(
        _ targets: [RedisSubscriptionTarget],
        continuation: AsyncThrowingStream<RedisSubscription.Event, any Error>.Continuation
    ) -> SubscribeAction {
        guard !self.isShutdown else { return .fail(RedisError(.clientShutdown)) }
        let id = self.nextID()
        self.entries[id] = Entry(targets: targets, continuation: continuation)
        var new: [RedisSubscriptionTarget] = []
        for target in targets {
            if self.index[target, default: []].isEmpty { new.append(target) }
            self.index[target, default: []].insert(id)
        }
        let wake = self.runLoopWaiter
        self.runLoopWaiter = nil
        return .subscribe(id: id, new: new, on: self.connection, wake: wake)
    }

    /// The server confirmed a subscription's new targets on the current connection.
    mutating func confirm(_ id: Int) {
        self.entries[id]?.isConfirmed = true
    }

    /// A subscription ends: finishes its stream, and says which targets nobody listens to any more.
    mutating func unsubscribe(_ id: Int) -> UnsubscribeAction {
        guard let entry = self.entries.removeValue(forKey: id) else { return .none }
        entry.continuation.finish()
        var unused: [RedisSubscriptionTarget] = []
        for target in entry.targets {
            self.index[target]?.remove(id)
            if self.index[target]?.isEmpty == true {
                self.index[target] = nil
                unused.append(target)
            }
        }
        let stillSubscribed = unused.filter { self.droppedByServer.remove($0) == nil }
        guard let connection = self.connection, !stillSubscribed.isEmpty else { return .none }
        return .unsubscribe(stillSubscribed, on: connection)
    }

    /// The server unsubscribed a target without being asked (`sunsubscribe` for a shard channel
    /// whose slot moved); our own unsubscriptions' confirmations, for targets nobody listens to,
    /// change nothing. Returns whether someone still listened to it.
    mutating func serverUnsubscribed(_ target: RedisSubscriptionTarget) -> Bool {
        guard self.index[target]?.isEmpty == false else { return false }
        self.droppedByServer.insert(target)
        return true
    }

    /// Delivers one message to every subscription listening to `target`, applying the overflow policy.
    ///
    /// - Returns: how many subscriptions could not take it.
    mutating func deliver(_ message: RedisPubSubMessage, to target: RedisSubscriptionTarget, policy: RedisConfiguration.OverflowPolicy) -> Int {
        guard let ids = self.index[target] else { return 0 }
        var dropped = 0
        for id in ids {
            guard var entry = self.entries[id] else { continue }
            if entry.dropped > 0 {
                let gap = RedisSubscription.Gap(reason: .overflow, droppedMessages: entry.dropped)
                if case .enqueued = entry.continuation.yield(.gap(gap)) { entry.dropped = 0 }
            }
            if entry.dropped == 0, case .enqueued = entry.continuation.yield(.message(message)) {
                self.entries[id] = entry
                continue
            }
            dropped += 1
            if policy.dropsMessages {
                entry.dropped += 1
                self.entries[id] = entry
            } else {
                entry.continuation.finish(throwing: RedisError(.subscriptionOverflow))
            }
        }
        return dropped
    }

    // MARK: waiting until the subscriptions are live

    /// A caller waits until the link is ready.
    ///
    /// - Parameter makeWaiter: Makes the waiter, called only when it gets in line.
    mutating func waitUntilReady(_ id: Int, _ makeWaiter: () -> ReadyWaiter) -> ReadyAction {
        if self.isShutdown { return .fail(RedisError(.clientShutdown)) }
        if case .ready = self.link { return .resume }
        self.readyWaiters[id] = makeWaiter()
        return .wait
    }

    /// A waiter timed out or was cancelled: takes it out of line.
    ///
    /// - Returns: the waiter, to be failed; `nil` when it was resumed or failed already.
    mutating func removeReadyWaiter(_ id: Int) -> ReadyWaiter? {
        self.readyWaiters.removeValue(forKey: id)
    }

    // MARK: the connection's lifecycle

    /// The run loop is about to connect, and parks when there is nothing to subscribe to.
    ///
    /// - Parameter makeWaiter: Makes the run loop's waiter, called only when it parks.
    mutating func runLoopWaits(isCancelled: Bool, _ makeWaiter: () -> RunLoopWaiter) -> RunLoopAction {
        if !self.entries.isEmpty || self.isShutdown || isCancelled { return .proceed }
        self.runLoopWaiter = makeWaiter()
        return .park
    }

    /// The run loop's wait was cancelled: hands back its waiter to resume.
    mutating func takeRunLoopWaiter() -> RunLoopWaiter? {
        defer { self.runLoopWaiter = nil }
        return self.runLoopWaiter
    }

    /// A connection is up: new subscriptions use it from now on.
    ///
    /// - Returns: every target, to subscribe to again on it.
    mutating func connected(_ connection: Connection) -> [RedisSubscriptionTarget] {
        self.link = .resubscribing(connection)
        self.droppedByServer = []
        return self.allTargets
    }

    /// The server has confirmed every target but `refused`: the subscriptions to a refused target
    /// end with its error, every other subscription is live (one that was live before gets a gap),
    /// and the waiters go on.
    ///
    /// - Returns: the waiters to resume.
    mutating func resubscribed(refused: [(RedisSubscriptionTarget, RedisError)]) -> [ReadyWaiter] {
        for (target, error) in refused { self.fail(target, with: error) }
        if case .resubscribing(let connection) = self.link { self.link = .ready(connection) }
        for (id, var entry) in self.entries {
            if entry.isConfirmed {
                entry.continuation.yield(.gap(RedisSubscription.Gap(reason: .reconnected, droppedMessages: nil)))
            }
            entry.isConfirmed = true
            self.entries[id] = entry
        }
        let waiters = Array(self.readyWaiters.values)
        self.readyWaiters.removeAll()
        return waiters
    }

    /// The connection is lost, failed to set up, or the run loop ends.
    ///
    /// - Returns: the connection, to be closed.
    mutating func disconnected() -> Connection? {
        defer { self.link = .disconnected }
        return self.connection
    }

    /// Ends every subscription and waiter with ``RedisError/Code/clientShutdown`` and refuses new ones.
    mutating func shutdown() -> ShutdownAction {
        self.isShutdown = true
        let waiters = Array(self.readyWaiters.values)
        self.readyWaiters.removeAll()
        return ShutdownAction(subscriptions: self.entries.values.map(\.continuation), readyWaiters: waiters)
    }

    /// Ends every subscription to a target the server refused on resubscription.
    private mutating func fail(_ target: RedisSubscriptionTarget, with error: RedisError) {
        for id in self.index[target] ?? [] {
            guard let entry = self.entries.removeValue(forKey: id) else { continue }
            entry.continuation.finish(throwing: error)
            for other in entry.targets {
                self.index[other]?.remove(id)
                if self.index[other]?.isEmpty == true { self.index[other] = nil }
            }
        }
    }
}

extension RedisPubSubMessage {
    /// Reads a `message`, `pmessage` or `smessage` push (or RESP2 array); `nil` for other pushes.
    static func parse(_ value: RESPValue) -> (RedisPubSubMessage, RedisSubscriptionTarget)? {
        guard let elements = value.elements, let kind = elements.first?.string else { return nil }
        switch kind {
        case "message" where elements.count == 3, "smessage" where elements.count == 3:
            guard let channel = elements[1].string, let payload = elements[2].bytes else { return nil }
            let sharded = kind == "smessage"
            return (
                RedisPubSubMessage(channel: channel, isSharded: sharded, payload: payload),
                RedisSubscriptionTarget(kind: sharded ? .shard : .channel, name: channel)
            )
        case "pmessage" where elements.count == 4:
            guard let pattern = elements[1].string, let channel = elements[2].string, let payload = elements[3].bytes else {
                return nil
            }
            return (
                RedisPubSubMessage(channel: channel, pattern: pattern, payload: payload),
                RedisSubscriptionTarget(kind: .pattern, name: pattern)
            )
        default:
            return nil
        }
    }
}
