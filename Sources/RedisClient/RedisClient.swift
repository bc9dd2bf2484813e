import Logging
import NIOCore
import NIOPosix
import RESP
import ServiceLifecycle
import Synchronization

/// A Redis client: a bounded pool of connections for commands, and one dedicated connection for
/// subscriptions that reconnects and resubscribes on its own.
///
/// Create it, then run it as a service (in a `ServiceGroup`, or `run()` in a task): its background
/// work — health checks and the subscription connection — happens only inside ``run()``.
///
/// ```swift
/// let client = try RedisClient(configuration: .init(url: "redis://127.0.0.1:6379"), logger: logger)
/// try await withThrowingDiscardingTaskGroup { group in
///     group.addTask { try await client.run() }
///     let id = try await client.execute(XADD("orders", fields: ["qty": ByteBuffer(string: "10")]))
/// }
/// ```
public final class RedisClient: Sendable, Service {
    /// The configuration the client was created with.
    public let configuration: RedisConfiguration
    let pool: RedisConnectionPool
    let subscriber: RedisSubscriber
    let factory: RedisConnectionFactory
    let logger: Logger
    private let eventLoopGroup: any EventLoopGroup
    private let hasRun = Atomic<Bool>(false)

    /// Creates a client. It opens no connection until used or run.
    ///
    /// - Parameters:
    ///   - configuration: where and how to connect.
    ///   - eventLoopGroup: the loops connections run on; NIO's shared group by default.
    ///   - logger: where the client logs; it never bootstraps logging itself.
    /// - Throws: ``RedisError`` with ``RedisError/Code/tlsFailure`` when the TLS settings are unusable.
    public init(
        configuration: RedisConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) throws {
        self.configuration = configuration
        self.logger = logger
        self.factory = RedisConnectionFactory(
            configuration: configuration,
            tlsContext: try RedisConnectionFactory.makeTLSContext(configuration.tls),
            metrics: RedisMetrics(),
            logger: logger
        )
        self.eventLoopGroup = eventLoopGroup
        self.pool = RedisConnectionPool(factory: self.factory, eventLoopGroup: eventLoopGroup, logger: logger)
        self.subscriber = RedisSubscriber(factory: self.factory, eventLoopGroup: eventLoopGroup, logger: logger)
    }

    /// Runs the client's background work until the task is cancelled or a graceful shutdown is
    /// triggered; then ends subscriptions and closes the pool.
    ///
    /// A client runs once: its subscription connection has one run loop, and a finished run has
    /// shut the pool down.
    /// - Throws: ``RedisError/Code/alreadyRunning`` when the client is running or has run.
    public func run() async throws {
        guard self.hasRun.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else {
            throw RedisError(.alreadyRunning)
        }
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.subscriber.run() }
                group.addTask { await self.checkHealthPeriodically() }
                if let sentinel = self.configuration.sentinel, sentinel.followsSwitchMaster {
                    let watcher = RedisSentinelWatcher(
                        sentinel: sentinel, factory: self.factory, eventLoopGroup: self.eventLoopGroup, logger: self.logger
                    ) { [pool = self.pool, subscriber = self.subscriber] _, _ in
                        pool.closeIdle()
                        subscriber.reconnect()
                    }
                    group.addTask { await watcher.run() }
                }
            }
        }
        self.subscriber.shutdown()
        await self.pool.shutdown()
    }

    private func checkHealthPeriodically() async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: self.configuration.pool.healthCheckInterval)
            } catch {
                return
            }
            await self.pool.checkHealth()
            await self.subscriber.checkHealth()
        }
    }

    /// Runs a command on a pooled connection and returns its typed reply.
    ///
    /// - Throws: ``RedisError``; see ``RedisConnection/execute(_:)``, plus
    ///   ``RedisError/Code/poolTimeout`` when no connection became free in time.
    public func execute<Command: RedisCommand>(_ command: Command) async throws -> Command.Response {
        try await self.pool.withConnection { try await $0.execute(command) }
    }

    /// Runs `body` with a connection of the pool, returned to the pool when `body` ends.
    ///
    /// Use it for pipelines, transactions, or several commands in a row on one connection.
    public func withConnection<Result>(_ body: (RedisConnection) async throws -> Result) async throws -> Result {
        try await self.pool.withConnection(body)
    }

    /// Runs a script with `EVALSHA`, loading it with `SCRIPT LOAD` first when the server answers
    /// `NOSCRIPT`; the script has not run in that case, so this is no retry of a command that ran.
    public func execute(_ script: RedisScript, keys: [String] = [], arguments: [ByteBuffer] = []) async throws -> RESPValue {
        try await self.pool.withConnection { connection in
            try await connection.execute(script, keys: keys, arguments: arguments)
        }
    }

    /// Subscribes to channels for the duration of `body`.
    ///
    /// The subscription is live on the server when `body` starts. After a dropped connection the
    /// client resubscribes and the sequence yields ``RedisSubscription/Event/gap(_:)``.
    /// - Throws: ``RedisError`` with ``RedisError/Code/timeout`` when the server did not confirm within
    ///   ``RedisConfiguration/Subscriptions/confirmationTimeout`` (is ``run()`` running?), or what `body` throws.
    public func subscribe<Result>(to channels: [String], _ body: (RedisSubscription) async throws -> Result) async throws -> Result {
        try await self.subscriber.subscribe(to: channels.map { .init(kind: .channel, name: $0) }, body)
    }

    /// Subscribes to glob patterns (`PSUBSCRIBE`) for the duration of `body`.
    public func subscribe<Result>(toPatterns patterns: [String], _ body: (RedisSubscription) async throws -> Result) async throws -> Result {
        try await self.subscriber.subscribe(to: patterns.map { .init(kind: .pattern, name: $0) }, body)
    }

    /// Subscribes to shard channels (`SSUBSCRIBE`) for the duration of `body`.
    public func subscribe<Result>(toShardChannels channels: [String], _ body: (RedisSubscription) async throws -> Result) async throws -> Result {
        try await self.subscriber.subscribe(to: channels.map { .init(kind: .shard, name: $0) }, body)
    }
}

extension RedisConnection {
    /// Runs a script with `EVALSHA`, loading it with `SCRIPT LOAD` when the server answers `NOSCRIPT`.
    public func execute(_ script: RedisScript, keys: [String] = [], arguments: [ByteBuffer] = []) async throws -> RESPValue {
        let command = EVALSHA(sha: script.sha, keys: keys, arguments: arguments)
        do {
            return try await self.execute(command)
        } catch let error as RedisError where error.serverErrorPrefix == "NOSCRIPT" {
            _ = try await self.execute(SCRIPT.LOAD(script.source))
            return try await self.execute(command)
        }
    }
}
