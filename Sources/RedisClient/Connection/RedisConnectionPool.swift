import Logging
import NIOCore
import NIOPosix
import Synchronization

/// A bounded pool of connections. A caller takes a free connection, opens one when below the
/// bound, or waits in line until one is returned or ``RedisConfiguration/Pool/acquireTimeout`` passes.
///
/// Who gets which connection is decided by ``RedisConnectionPoolStateMachine``; the pool keeps it
/// behind a lock and carries out its actions. All waiting happens in the callers' tasks; the only
/// background work, the health check, runs inside ``RedisClient/run()``.
final class RedisConnectionPool: Sendable {
    private typealias StateMachine = RedisConnectionPoolStateMachine<RedisConnection, Waiter>
    private typealias Grant = StateMachine.Grant

    private struct Waiter: Sendable {
        var continuation: CheckedContinuation<Grant, any Error>
        var timeout: Scheduled<Void>

        func resume(with grant: Grant) {
            self.timeout.cancel()
            self.continuation.resume(returning: grant)
        }

        func fail(_ error: any Error) {
            self.timeout.cancel()
            self.continuation.resume(throwing: error)
        }
    }

    private let state: Mutex<StateMachine>
    private let factory: RedisConnectionFactory
    private let eventLoopGroup: any EventLoopGroup
    private let settings: RedisConfiguration.Pool
    private let logger: Logger

    init(factory: RedisConnectionFactory, eventLoopGroup: any EventLoopGroup, logger: Logger) {
        self.factory = factory
        self.eventLoopGroup = eventLoopGroup
        self.settings = factory.configuration.pool
        self.logger = logger
        self.state = Mutex(StateMachine(maximumConnections: factory.configuration.pool.maximumConnections))
    }

    /// Runs `body` with a connection and returns the connection to the pool afterwards.
    func withConnection<Result>(_ body: (RedisConnection) async throws -> Result) async throws -> Result {
        let connection = try await self.lease()
        defer { self.release(connection) }
        return try await body(connection)
    }

    /// The number of connections open or being opened.
    var openConnections: Int { self.state.withLock { $0.open } }

    /// The number of callers waiting in line for a connection.
    var waitingCallers: Int { self.state.withLock { $0.waiting } }

    /// Takes a connection: on a caller running on one of the group's event loops (a task that
    /// prefers it as its executor), one on that loop, opened there when none is idle, so its
    /// commands cost no thread hop.
    private func lease() async throws -> RedisConnection {
        let grant: Grant
        let action: StateMachine.LeaseAction
        // A group hands out the caller's own loop when the caller runs on one of its loops.
        if let loop = MultiThreadedEventLoopGroup.currentEventLoop, self.eventLoopGroup.any() === loop {
            action = self.state.withLock { $0.lease(preferring: { $0.channel.eventLoop === loop }) }
        } else {
            action = self.state.withLock { $0.lease() }
        }
        switch action {
        case .grant(let immediate):
            grant = immediate
        case .wait:
            grant = try await self.waitForGrant()
        case .fail(let error):
            throw error
        }
        switch grant {
        case .connection(let connection):
            return connection
        case .open:
            do {
                return try await self.factory.connect(on: self.eventLoopGroup.any(), onPush: nil)
            } catch {
                self.perform(self.state.withLock { $0.connectionGone() })
                throw error
            }
        }
    }

    private func waitForGrant() async throws -> Grant {
        let id = self.state.withLock { $0.nextWaiterID() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Grant, any Error>) in
                let action = self.state.withLock { state in
                    state.enqueue(id) {
                        let timeout = self.eventLoopGroup.any().scheduleTask(in: TimeAmount(self.settings.acquireTimeout)) {
                            self.failWaiter(id, RedisError(.poolTimeout))
                        }
                        return Waiter(continuation: continuation, timeout: timeout)
                    }
                }
                switch action {
                case .wait:
                    break
                case .grant(let grant):
                    continuation.resume(returning: grant)
                case .fail(let error):
                    continuation.resume(throwing: error)
                }
            }
        } onCancel: {
            self.failWaiter(id, CancellationError())
        }
    }

    private func failWaiter(_ id: Int, _ error: any Error) {
        self.state.withLock { $0.removeWaiter(id) }?.fail(error)
    }

    private func release(_ connection: RedisConnection) {
        self.perform(self.state.withLock { $0.release(connection) })
    }

    private func perform(_ action: StateMachine.ReturnAction) {
        switch action {
        case .none:
            break
        case .grant(let waiter, let grant):
            waiter.resume(with: grant)
        case .close(let connection):
            connection.channel.close(mode: .all, promise: nil)
        }
    }

    /// Pings every idle connection and drops those that fail; runs inside ``RedisClient/run()``.
    func checkHealth() async {
        let idle = self.state.withLock { $0.takeIdle() }
        for connection in idle {
            do {
                _ = try await connection.execute(PING())
            } catch {
                self.logger.debug("redis pool dropped an unhealthy connection", metadata: ["redis.connection": "\(connection.id)"])
                await connection.close()
            }
            self.release(connection)
        }
    }

    /// Closes the idle connections (after a failover, they lead to the former primary); the next
    /// callers open new ones. Leased connections stay with their callers.
    func closeIdle() {
        for connection in self.state.withLock({ $0.takeIdle() }) {
            connection.channel.close(mode: .all, promise: nil)
            self.perform(self.state.withLock { $0.connectionGone() })
        }
    }

    /// Closes idle connections and fails waiters; leased connections close when returned.
    func shutdown() async {
        let action = self.state.withLock { $0.shutdown() }
        for waiter in action.waiters { waiter.fail(RedisError(.clientShutdown)) }
        for connection in action.idle { await connection.close() }
    }
}
