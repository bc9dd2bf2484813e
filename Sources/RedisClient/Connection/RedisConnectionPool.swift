import Logging
import NIOCore
import Synchronization

/// A bounded pool of connections. A caller takes a free connection, opens one when below the
/// bound, or waits in line until one is returned or ``RedisConfiguration/Pool/acquireTimeout`` passes.
///
/// All waiting happens in the callers' tasks; the only background work, the health check, runs
/// inside ``RedisClient/run()``.
final class RedisConnectionPool: Sendable {
    private enum Grant: Sendable {
        case connection(RedisConnection)
        case open
    }

    private struct Waiter {
        var id: Int
        var continuation: CheckedContinuation<Grant, any Error>
        var timeout: Scheduled<Void>?
    }

    private struct State {
        var idle: [RedisConnection] = []
        var open = 0
        var waiters: [Waiter] = []
        var nextWaiterID = 0
        var isShutdown = false
    }

    private let state = Mutex(State())
    private let factory: RedisConnectionFactory
    private let eventLoopGroup: any EventLoopGroup
    private let settings: RedisConfiguration.Pool
    private let logger: Logger

    init(factory: RedisConnectionFactory, eventLoopGroup: any EventLoopGroup, logger: Logger) {
        self.factory = factory
        self.eventLoopGroup = eventLoopGroup
        self.settings = factory.configuration.pool
        self.logger = logger
    }

    /// Runs `body` with a connection and returns the connection to the pool afterwards.
    func withConnection<Result>(_ body: (RedisConnection) async throws -> Result) async throws -> Result {
        let connection = try await self.lease()
        defer { self.release(connection) }
        return try await body(connection)
    }

    /// The number of connections open or being opened.
    var openConnections: Int { self.state.withLock { $0.open } }

    private func lease() async throws -> RedisConnection {
        let immediate: Grant? = try self.state.withLock { state in
            guard !state.isShutdown else { throw RedisError(.clientShutdown) }
            while let connection = state.idle.popLast() {
                if !connection.isClosed { return .connection(connection) }
                state.open -= 1
            }
            if state.open < self.settings.maximumConnections {
                state.open += 1
                return .open
            }
            return nil
        }
        let grant: Grant
        if let immediate {
            grant = immediate
        } else {
            grant = try await self.waitForGrant()
        }
        switch grant {
        case .connection(let connection):
            return connection
        case .open:
            do {
                return try await self.factory.connect(on: self.eventLoopGroup.any(), onPush: nil)
            } catch {
                self.connectionGone()
                throw error
            }
        }
    }

    private func waitForGrant() async throws -> Grant {
        let id = self.state.withLock { state -> Int in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Grant, any Error>) in
                let resumed: Result<Grant, any Error>? = self.state.withLock { state in
                    if state.isShutdown { return .failure(RedisError(.clientShutdown)) }
                    while let connection = state.idle.popLast() {
                        if !connection.isClosed { return .success(.connection(connection)) }
                        state.open -= 1
                    }
                    if state.open < self.settings.maximumConnections {
                        state.open += 1
                        return .success(.open)
                    }
                    let timeout = self.eventLoopGroup.any().scheduleTask(in: TimeAmount(self.settings.acquireTimeout)) {
                        self.failWaiter(id, RedisError(.poolTimeout))
                    }
                    state.waiters.append(Waiter(id: id, continuation: continuation, timeout: timeout))
                    return nil
                }
                if let resumed { continuation.resume(with: resumed) }
            }
        } onCancel: {
            self.failWaiter(id, CancellationError())
        }
    }

    private func failWaiter(_ id: Int, _ error: any Error) {
        let waiter: Waiter? = self.state.withLock { state in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiters.remove(at: index)
        }
        waiter?.timeout?.cancel()
        waiter?.continuation.resume(throwing: error)
    }

    /// Returns a connection: to the first waiter, else to the idle list; a closed one frees its slot.
    private func release(_ connection: RedisConnection) {
        if connection.isClosed {
            self.connectionGone()
            return
        }
        let (waiter, closeIt): (Waiter?, Bool) = self.state.withLock { state in
            if state.isShutdown {
                state.open -= 1
                return (nil, true)
            }
            if !state.waiters.isEmpty {
                return (state.waiters.removeFirst(), false)
            }
            state.idle.append(connection)
            return (nil, false)
        }
        if let waiter {
            waiter.timeout?.cancel()
            waiter.continuation.resume(returning: .connection(connection))
        } else if closeIt {
            connection.channel.close(mode: .all, promise: nil)
        }
    }

    /// A connection closed or failed to open: its slot goes to the first waiter, who opens a new one.
    private func connectionGone() {
        let waiter: Waiter? = self.state.withLock { state in
            if !state.waiters.isEmpty && !state.isShutdown {
                return state.waiters.removeFirst()
            }
            state.open -= 1
            return nil
        }
        waiter?.timeout?.cancel()
        waiter?.continuation.resume(returning: .open)
    }

    /// Pings every idle connection and drops those that fail; runs inside ``RedisClient/run()``.
    func checkHealth() async {
        let idle = self.state.withLock { state -> [RedisConnection] in
            let idle = state.idle
            state.idle.removeAll()
            return idle
        }
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

    /// Closes idle connections and fails waiters; leased connections close when returned.
    func shutdown() async {
        let (idle, waiters) = self.state.withLock { state -> ([RedisConnection], [Waiter]) in
            state.isShutdown = true
            let result = (state.idle, state.waiters)
            state.open -= state.idle.count
            state.idle.removeAll()
            state.waiters.removeAll()
            return result
        }
        for waiter in waiters {
            waiter.timeout?.cancel()
            waiter.continuation.resume(throwing: RedisError(.clientShutdown))
        }
        for connection in idle { await connection.close() }
    }
}
