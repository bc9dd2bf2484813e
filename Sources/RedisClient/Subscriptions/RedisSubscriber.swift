import Logging
import NIOCore
import RESP
import Synchronization

/// Runs a client's subscriptions on one dedicated connection: subscribes, dispatches messages,
/// and after a dropped connection reconnects with backoff, resubscribes to everything still active
/// and tells each subscription that a gap may have occurred.
///
/// What is subscribed, whether it is live, and who waits for that is decided by
/// ``RedisSubscriberState``; the subscriber keeps it behind a lock and carries out its actions.
final class RedisSubscriber: Sendable {
    private typealias State = RedisSubscriberState<RedisConnection, CheckedContinuation<Void, any Error>, CheckedContinuation<Void, Never>>

    private let state = Mutex(State())
    private let factory: RedisConnectionFactory
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let onServerUnsubscribe: (@Sendable (String) -> Void)?

    /// - Parameter onServerUnsubscribe: Called with a shard channel the server unsubscribed on its
    ///   own (a cluster moved its slot away).
    init(
        factory: RedisConnectionFactory, eventLoopGroup: any EventLoopGroup, logger: Logger,
        onServerUnsubscribe: (@Sendable (String) -> Void)? = nil
    ) {
        self.factory = factory
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        self.onServerUnsubscribe = onServerUnsubscribe
    }

    // MARK: subscribing

    func subscribe<Result>(
        to targets: [RedisSubscriptionTarget],
        _ body: (RedisSubscription) async throws -> Result
    ) async throws -> Result {
        let settings = self.factory.configuration.subscriptions
        let (stream, continuation) = AsyncThrowingStream.makeStream(
            of: RedisSubscription.Event.self,
            bufferingPolicy: .bufferingOldest(max(settings.bufferSize, 2))
        )
        let (id, new, connection): (Int, [RedisSubscriptionTarget], RedisConnection?)
        switch self.state.withLock({ $0.subscribe(targets, continuation: continuation) }) {
        case .subscribe(let subscription, let newTargets, let current, let wake):
            (id, new, connection) = (subscription, newTargets, current)
            wake?.resume()
        case .fail(let error):
            throw error
        }
        do {
            try await self.confirm(id: id, new: new, on: connection)
            let result = try await body(RedisSubscription(stream: stream))
            await self.unsubscribe(id)
            return result
        } catch {
            await self.unsubscribe(id)
            throw error
        }
    }

    /// Waits until the server has confirmed the subscription's targets.
    private func confirm(id: Int, new: [RedisSubscriptionTarget], on connection: RedisConnection?) async throws {
        if let connection {
            do {
                if let (_, error) = try await Self.subscribe(new, on: connection).first {
                    throw error
                }
                self.state.withLock { $0.confirm(id) }
                return
            } catch let error as RedisError where error.code == .serverError {
                throw error
            } catch {
                self.logger.debug("redis subscribe failed; waiting for the subscription connection to come back")
            }
        }
        try await self.waitUntilReady(timeout: self.factory.configuration.subscriptions.confirmationTimeout)
    }

    private func waitUntilReady(timeout: Duration) async throws {
        let waiterID = self.state.withLock { $0.nextID() }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                switch self.state.withLock({ $0.waitUntilReady(waiterID) { continuation } }) {
                case .wait:
                    self.eventLoopGroup.any().scheduleTask(in: TimeAmount(timeout)) {
                        self.failReadyWaiter(waiterID, RedisError(.timeout))
                    }
                case .resume:
                    continuation.resume()
                case .fail(let error):
                    continuation.resume(throwing: error)
                }
            }
        } onCancel: {
            self.failReadyWaiter(waiterID, CancellationError())
        }
    }

    private func failReadyWaiter(_ id: Int, _ error: any Error) {
        self.state.withLock { $0.removeReadyWaiter(id) }?.resume(throwing: error)
    }

    private func unsubscribe(_ id: Int) async {
        guard case .unsubscribe(let unused, let connection) = self.state.withLock({ $0.unsubscribe(id) }) else { return }
        await connection.sendWithoutReply(Self.encode(unused, subscribe: false, allocator: connection.channel.allocator))
    }

    /// Subscribes to each target with its own command, so a refusal (`NOPERM`) names its target.
    ///
    /// - Returns: the targets the server refused, with its error.
    /// - Throws: when the connection fails.
    private static func subscribe(
        _ targets: [RedisSubscriptionTarget],
        on connection: RedisConnection
    ) async throws -> [(RedisSubscriptionTarget, RedisError)] {
        var refused: [(RedisSubscriptionTarget, RedisError)] = []
        for target in targets {
            var encoder = connection.makeEncoder()
            encoder.encode(target.kind.subscribe, target.name)
            let reply = try await connection.sendSubscribe(encoder.finish(), confirmations: 1)
            if let message = reply.errorMessage {
                refused.append((target, RedisError(.serverError, serverMessage: message)))
            }
        }
        return refused
    }

    private static func encode(_ targets: [RedisSubscriptionTarget], subscribe: Bool, allocator: ByteBufferAllocator) -> RESPEncodedRequest {
        var encoder = RESPCommandEncoder(allocator: allocator)
        for kind in [RedisSubscriptionTarget.Kind.channel, .pattern, .shard] {
            let names = targets.filter { $0.kind == kind }.map(\.name)
            guard !names.isEmpty else { continue }
            if kind == .shard {
                for name in names { encoder.encode(subscribe ? kind.subscribe : kind.unsubscribe, name) }
            } else {
                encoder.encode(subscribe ? kind.subscribe : kind.unsubscribe, names)
            }
        }
        return encoder.finish()
    }

    // MARK: dispatch

    func handlePush(_ value: RESPValue) {
        guard let (message, target) = RedisPubSubMessage.parse(value) else {
            if let elements = value.elements, elements.count >= 2, elements[0].string == "sunsubscribe", let channel = elements[1].string {
                if self.state.withLock({ $0.serverUnsubscribed(RedisSubscriptionTarget(kind: .shard, name: channel)) }) {
                    self.onServerUnsubscribe?(channel)
                }
            }
            return
        }
        let policy = self.factory.configuration.subscriptions.overflowPolicy
        let dropped = self.state.withLock { $0.deliver(message, to: target, policy: policy) }
        if dropped > 0 { self.factory.metrics.droppedMessages.increment(by: dropped) }
    }

    // MARK: the connection's lifecycle, inside RedisClient.run()

    func run() async {
        var backoff = RedisBackoff(self.factory.configuration.reconnect)
        var hadConnection = false
        while !Task.isCancelled {
            await self.waitUntilNeeded()
            if Task.isCancelled { break }
            do {
                let connection = try await self.factory.connect(on: self.eventLoopGroup.any()) { [self] value in
                    self.handlePush(value)
                }
                if await connection.protocolVersion == 2 { await connection.setSubscriberMode(true) }
                let targets = self.state.withLock { $0.connected(connection) }
                let refused = try await Self.subscribe(targets, on: connection)
                let waiters = self.state.withLock { $0.resubscribed(refused: refused) }
                for waiter in waiters { waiter.resume() }
                if hadConnection {
                    self.factory.metrics.reconnects.increment()
                    self.logger.info("redis subscription connection restored; resubscribed", metadata: ["redis.subscriptions": "\(targets.count)"])
                }
                hadConnection = true
                backoff.reset()
                await withTaskCancellationHandler {
                    await connection.waitForClose()
                } onCancel: {
                    connection.channel.close(mode: .all, promise: nil)
                }
                self.detach()
                if !Task.isCancelled {
                    self.logger.info("redis subscription connection lost; reconnecting")
                }
            } catch {
                self.detach()
                let delay = backoff.next()
                self.logger.debug("redis subscription connect failed", metadata: ["redis.retry_in": "\(delay)"])
                try? await Task.sleep(for: delay)
            }
        }
        self.detach()
    }

    /// Pings the subscription connection and closes it when it does not answer, so `run()` reconnects.
    func checkHealth() async {
        guard let connection = self.state.withLock({ $0.readyConnection }) else { return }
        do {
            _ = try await connection.execute(PING())
        } catch {
            self.logger.debug("redis subscription connection failed its health check")
            connection.channel.close(mode: .all, promise: nil)
        }
    }

    /// Closes the subscription connection, so that `run()` connects again (to the primary the
    /// Sentinels name after a failover), resubscribes and reports a possible gap.
    func reconnect() {
        self.state.withLock { $0.connection }?.channel.close(mode: .all, promise: nil)
    }

    private func detach() {
        self.state.withLock { $0.disconnected() }?.channel.close(mode: .all, promise: nil)
    }

    /// Suspends until at least one subscription exists, or the task is cancelled.
    private func waitUntilNeeded() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let isCancelled = Task.isCancelled
                if case .proceed = self.state.withLock({ $0.runLoopWaits(isCancelled: isCancelled) { continuation } }) {
                    continuation.resume()
                }
            }
        } onCancel: {
            self.state.withLock { $0.takeRunLoopWaiter() }?.resume()
        }
    }

    /// Ends every subscription with ``RedisError/Code/clientShutdown`` and refuses new ones.
    func shutdown() {
        let action = self.state.withLock { $0.shutdown() }
        for continuation in action.subscriptions { continuation.finish(throwing: RedisError(.clientShutdown)) }
        for waiter in action.readyWaiters { waiter.resume(throwing: RedisError(.clientShutdown)) }
    }
}
