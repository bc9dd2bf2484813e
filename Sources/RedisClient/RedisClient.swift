import Logging
import NIOCore
import NIOPosix
import RESP
import ServiceLifecycle
import Synchronization

/// A Redis client: a bounded pool of connections for commands, and one dedicated connection for
/// subscriptions that reconnects and resubscribes on its own.
///
/// On a Redis Cluster (found out on first use, see ``RedisConfiguration/Cluster``) it keeps a pool
/// per primary and sends each command to the node that owns its key's hash slot, following `MOVED`
/// and `ASK` and retrying `TRYAGAIN` and `CLUSTERDOWN`. Subscriptions (`SUBSCRIBE`, `PSUBSCRIBE`)
/// use one connection to any node: a cluster delivers every `PUBLISH` to every node.
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
    private let mode = Mutex<Mode>(.undetermined)

    private enum Mode {
        case undetermined
        case single
        case cluster(RedisClusterRouter)
    }

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
                group.addTask { await self.refreshClusterPeriodically() }
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
        if case .cluster(let router) = self.mode.withLock({ $0 }) { await router.shutdown() }
    }

    /// Reads a cluster's slot map every ``RedisConfiguration/Cluster/refreshInterval``.
    private func refreshClusterPeriodically() async {
        await Self.repeatedly(every: self.configuration.cluster.refreshInterval) {
            guard case .cluster(let router) = self.mode.withLock({ $0 }) else { return }
            do {
                try await router.refresh()
            } catch {
                self.logger.debug("redis cluster slot map not refreshed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Runs `body` after every `interval` until the task is cancelled.
    private static func repeatedly(every interval: Duration, _ body: () async -> Void) async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: interval)
            } catch {
                return
            }
            await body()
        }
    }

    /// The cluster router, once the first node said it is a cluster; `nil` for a single server.
    private func clusterRouter() async throws -> RedisClusterRouter? {
        switch self.mode.withLock({ $0 }) {
        case .single: return nil
        case .cluster(let router): return router
        case .undetermined: break
        }
        if self.configuration.sentinel != nil || self.configuration.cluster.mode == .disabled {
            self.mode.withLock { $0 = .single }
            return nil
        }
        let tls = self.configuration.tls.isEnabled
        let required = self.configuration.cluster.mode == .required
        let topology: RedisClusterTopology? = try await self.pool.withConnection { connection in
            do {
                return try await RedisClusterRouter.readTopology(on: connection, tls: tls)
            } catch let error as RedisError where error.code == .serverError && !required {
                // "ERR This instance has cluster support disabled", or an ACL user without `CLUSTER`.
                self.logger.debug("redis server is not a cluster node", metadata: ["redis.reply": "\(error.serverErrorPrefix ?? "")"])
                return nil
            }
        }
        let router = topology.map {
            RedisClusterRouter(topology: $0, factory: self.factory, eventLoopGroup: self.eventLoopGroup, logger: self.logger)
        }
        let chosen: Mode = self.mode.withLock { mode in
            if case .undetermined = mode { mode = router.map { .cluster($0) } ?? .single }
            return mode
        }
        guard case .cluster(let chosenRouter) = chosen else { return nil }
        if chosenRouter === router {
            self.pool.closeIdle()
            self.logger.info("redis cluster mode", metadata: ["redis.primaries": "\(chosenRouter.topology.primaries.count)"])
        }
        return chosenRouter
    }

    /// The slot map the client holds now (as last read or corrected by `MOVED`), without asking a
    /// node; `nil` for a single server, or before the first command found out which it is.
    public var knownClusterTopology: RedisClusterTopology? {
        if case .cluster(let router) = self.mode.withLock({ $0 }) { return router.topology }
        return nil
    }

    /// The cluster router, once found; for tests that look at the slot map the client holds.
    var clusterRouterForTests: RedisClusterRouter? {
        if case .cluster(let router) = self.mode.withLock({ $0 }) { return router }
        return nil
    }

    /// Whether the server is a Redis Cluster; asks the first node on the first call.
    /// - Throws: ``RedisError`` when the node cannot be reached.
    public var isCluster: Bool {
        get async throws { try await self.clusterRouter() != nil }
    }

    /// The slot map of the cluster, read again now; `nil` for a single server.
    /// - Throws: ``RedisError`` when no node answers.
    public func clusterTopology() async throws -> RedisClusterTopology? {
        guard let router = try await self.clusterRouter() else { return nil }
        return try await router.refresh()
    }

    private func checkHealthPeriodically() async {
        await Self.repeatedly(every: self.configuration.pool.healthCheckInterval) {
            await self.pool.checkHealth()
            await self.subscriber.checkHealth()
            if case .cluster(let router) = self.mode.withLock({ $0 }) { await router.checkHealth() }
        }
    }

    /// Runs a command on a pooled connection and returns its typed reply; on a cluster, on the
    /// primary that owns its ``RedisCommand/routingKey``.
    ///
    /// - Throws: ``RedisError``; see ``RedisConnection/execute(_:)``, plus
    ///   ``RedisError/Code/poolTimeout`` when no connection became free in time.
    public func execute<Command: RedisCommand>(_ command: Command) async throws -> Command.Response {
        // A command without a key runs on any node: before the first node has said whether it is
        // a cluster, on that node, so a health check's PING costs no cluster detection. A command
        // that names no key but has one (a custom command) and is redirected goes through the cluster.
        if command.routingKey == nil, self.isUndetermined {
            do {
                return try await self.pool.withConnection { try await $0.execute(command) }
            } catch let error as RedisError where error.isClusterRedirection {
                guard let router = try await self.clusterRouter() else { throw error }
                return try await router.execute(command)
            }
        }
        if let router = try await self.clusterRouter() { return try await router.execute(command) }
        return try await self.pool.withConnection { try await $0.execute(command) }
    }

    private var isUndetermined: Bool {
        if case .undetermined = self.mode.withLock({ $0 }) { return true }
        return false
    }

    /// One of the client's event loops as a task executor, for a hot loop of commands, or of
    /// publishes one at a time:
    ///
    /// ```swift
    /// try await withTaskExecutorPreference(client.taskExecutor()) {
    ///     for quote in quotes { try await router.publish(to: channel, payload: quote) }
    /// }
    /// ```
    ///
    /// The body runs on that loop; the pool hands it connections on the same loop (and opens one
    /// there when none is idle), and each reply continues the body on the thread it arrived on:
    /// no thread hop per command, where a task on the global executor has two. Keep blocking or
    /// long CPU work out of the body, which shares the loop with the connections' I/O.
    public func taskExecutor() -> any TaskExecutor {
        RedisEventLoopTaskExecutor(eventLoop: self.eventLoopGroup.any())
    }

    /// Runs `body` with a connection of the pool, returned to the pool when `body` ends.
    ///
    /// Use it for pipelines, transactions, or several commands in a row on one connection. On a
    /// cluster the connection leads to any primary: use ``withConnection(forKey:_:)`` for keys.
    public func withConnection<Result>(_ body: (RedisConnection) async throws -> Result) async throws -> Result {
        if let router = try await self.clusterRouter() { return try await router.withConnection(slot: nil, body) }
        return try await self.pool.withConnection(body)
    }

    /// Runs `body` with a connection to the node that owns `key` (on a single server, any pooled
    /// connection). Every key `body` touches must share `key`'s hash slot on a cluster.
    ///
    /// On a cluster `body` runs again when it throws a redirection (`MOVED`, `ASK`), `TRYAGAIN` or
    /// `CLUSTERDOWN`, or cannot connect: the server did not run the command that failed so. Replies
    /// of a pipeline that are such errors are the caller's to run again (see ``RedisError/isClusterRedirection``).
    public func withConnection<Result>(forKey key: String, _ body: (RedisConnection) async throws -> Result) async throws -> Result {
        if let router = try await self.clusterRouter() { return try await router.withConnection(slot: RedisClusterSlot.of(key), body) }
        return try await self.pool.withConnection(body)
    }

    /// Runs `body` once per node that owns some of `keys`, with a connection to it and the indices of
    /// the keys it owns, in parallel; on a single server once, with every index, on a pooled
    /// connection. Each call runs as ``withConnection(forKey:_:)`` does for its node's first key.
    /// - Returns: each call's indices and result, in the order of the nodes' first keys.
    public func withConnectionPerNode<Result: Sendable>(
        forKeys keys: [String], _ body: @escaping @Sendable (RedisConnection, [Int]) async throws -> Result
    ) async throws -> [(indices: [Int], result: Result)] {
        guard !keys.isEmpty else { return [] }
        guard let router = try await self.clusterRouter() else {
            let all = Array(keys.indices)
            return [(all, try await self.pool.withConnection { try await body($0, all) })]
        }
        let groups = try router.partition(slots: keys.map(RedisClusterSlot.of))
        if groups.count == 1 {
            return [(groups[0], try await router.withConnection(slot: RedisClusterSlot.of(keys[0])) { try await body($0, groups[0]) })]
        }
        return try await withThrowingTaskGroup(of: (Int, [Int], Result).self) { tasks in
            for (order, indices) in groups.enumerated() {
                let slot = RedisClusterSlot.of(keys[indices[0]])
                tasks.addTask { (order, indices, try await router.withConnection(slot: slot) { try await body($0, indices) }) }
            }
            var results: [(order: Int, indices: [Int], result: Result)] = []
            for try await outcome in tasks { results.append(outcome) }
            return results.sorted { $0.order < $1.order }.map { ($0.indices, $0.result) }
        }
    }

    /// Sends commands of one type as pipelines and returns each reply as a `Result`, in the order given.
    ///
    /// On a single server it is one pipeline on one connection. On a cluster the commands are split
    /// into one pipeline per primary (``withConnectionPerNode(forKeys:_:)``, by each command's
    /// ``RedisCommand/routingKey``; keyless ones go with the first keyed command's node), sent in
    /// parallel and reassembled in order; a reply that is a redirection or `TRYAGAIN` (the command
    /// did not run) is run again on its own, following the cluster. Each command stands alone: no
    /// order holds between commands of different nodes.
    /// - Throws: ``RedisError`` only when a connection fails.
    public func pipeline<Command: RedisCommand>(_ commands: [Command]) async throws -> [Result<Command.Response, RedisError>] {
        let anyKey = commands.lazy.compactMap(\.routingKey).first ?? ""
        let perNode = try await self.withConnectionPerNode(forKeys: commands.map { $0.routingKey ?? anyKey }) { connection, indices in
            try await connection.pipeline(indices.map { commands[$0] })
        }
        var replies = [Result<Command.Response, RedisError>?](repeating: nil, count: commands.count)
        for (indices, results) in perNode {
            for (index, result) in zip(indices, results) { replies[index] = result }
        }
        for index in replies.indices {
            guard case .failure(let error)? = replies[index], error.isClusterRedirection else { continue }
            do {
                replies[index] = .success(try await self.execute(commands[index]))
            } catch let error as RedisError where error.code == .serverError {
                replies[index] = .failure(error)
            }
        }
        return replies.map { $0! }
    }

    /// Runs `body` once on every primary of a cluster, in parallel (once on a single server): for
    /// commands over the whole keyspace, such as `SCAN`.
    public func forEachPrimary<Result: Sendable>(_ body: @escaping @Sendable (RedisConnection) async throws -> Result) async throws -> [Result] {
        if let router = try await self.clusterRouter() { return try await router.forEachPrimary(body) }
        return [try await self.pool.withConnection(body)]
    }

    /// Runs a script with `EVALSHA`, loading it with `SCRIPT LOAD` first when the server answers
    /// `NOSCRIPT`; the script has not run in that case, so this is no retry of a command that ran.
    /// On a cluster it runs on the node of its first key (and is loaded there).
    public func execute(_ script: RedisScript, keys: [String] = [], arguments: [ByteBuffer] = []) async throws -> RESPValue {
        if let router = try await self.clusterRouter() {
            return try await router.withConnection(slot: keys.first.map(RedisClusterSlot.of)) { connection in
                try await connection.execute(script, keys: keys, arguments: arguments)
            }
        }
        return try await self.pool.withConnection { connection in
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
    ///
    /// On a cluster each channel is subscribed on the node that serves its slot, on a connection
    /// per node; when a slot moves, its channels are subscribed again on the new node and the
    /// sequence yields ``RedisSubscription/Event/gap(_:)`` with ``RedisSubscription/Gap/Reason/moved``.
    public func subscribe<Result>(toShardChannels channels: [String], _ body: (RedisSubscription) async throws -> Result) async throws -> Result {
        if let router = try await self.clusterRouter() {
            return try await router.subscribe(toShardChannels: channels, body)
        }
        return try await self.subscriber.subscribe(to: channels.map { .init(kind: .shard, name: $0) }, body)
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
