import Logging
import NIOCore
import RESP
import Synchronization

/// Runs commands on a Redis Cluster: a pool per primary, the slot map from `CLUSTER SHARDS` (or
/// `CLUSTER SLOTS`), and the redirections and retries of a cluster in motion.
///
/// - `MOVED`: the slot moved for good; the map is corrected at once, refreshed in the background,
///   and the command runs again on the new owner.
/// - `ASK`: one key is being migrated; the command runs once on the target after `ASKING`.
/// - `TRYAGAIN` (a multi-key command during a migration) and `CLUSTERDOWN` (a failover in progress):
///   the command runs again after a pause that doubles from 10 ms up to
///   ``RedisConfiguration/Cluster/maximumRetryDelay``.
/// - A node that cannot be connected to: the map is read again (a replica may have taken over)
///   and the command runs again; the command was never sent.
///
/// A command that was sent and whose connection then failed is not run again: it may have run.
/// After ``RedisConfiguration/Cluster/maximumAttempts`` the last error is thrown.
final class RedisClusterRouter: Sendable {
    private struct State {
        var topology: RedisClusterTopology
        var pools: [RedisConfiguration.Endpoint: RedisConnectionPool] = [:]
        /// Pools of connections to replicas, which sent `READONLY`.
        var replicaPools: [RedisConfiguration.Endpoint: RedisConnectionPool] = [:]
        var refreshing: Task<RedisClusterTopology, any Error>?
        var isShutDown = false
        /// A subscription connection per node, for shard channels, with the task that runs it.
        var shardSubscribers: [RedisConfiguration.Endpoint: (subscriber: RedisSubscriber, run: Task<Void, Never>)] = [:]
    }

    private let state: Mutex<State>
    private let factory: RedisConnectionFactory
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let settings: RedisConfiguration.Cluster

    init(topology: RedisClusterTopology, factory: RedisConnectionFactory, eventLoopGroup: any EventLoopGroup, logger: Logger) {
        self.state = Mutex(State(topology: topology))
        self.factory = factory
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        self.settings = factory.configuration.cluster
        factory.knownNodes.learn(topology)
    }

    /// The slot map as last read or corrected.
    var topology: RedisClusterTopology { self.state.withLock { $0.topology } }

    /// Reads the slot map from `connection`: `CLUSTER SHARDS`, or `CLUSTER SLOTS` on a server before Redis 7.
    static func readTopology(on connection: RedisConnection, tls: Bool) async throws -> RedisClusterTopology {
        do {
            return try RedisClusterTopology(shardsReply: try await connection.execute(GenericCommand("CLUSTER", "SHARDS")), tls: tls)
        } catch let error as RedisError where error.code == .serverError && error.serverMessage?.lowercased().contains("unknown subcommand") == true {
            return try RedisClusterTopology(slotsReply: try await connection.execute(GenericCommand("CLUSTER", "SLOTS")))
        }
    }

    // MARK: running commands

    /// Runs `command` on the node that owns its key (any primary for a keyless command), or on one
    /// of its replicas for a read-only command when ``RedisConfiguration/Cluster/readsFromReplicas`` is on.
    func execute<Command: RedisCommand>(_ command: Command) async throws -> Command.Response {
        let slot = command.routingKey.map(RedisClusterSlot.of)
        if self.settings.readsFromReplicas, command.isReadOnly, let slot {
            return try await self.withConnection(slot: slot, preferringReplica: true) { try await $0.execute(command) }
        }
        return try await self.withConnection(slot: slot) { try await $0.execute(command) }
    }

    /// Runs `body` with a connection to the primary of `slot` (any primary when `nil`), following
    /// redirections and retrying as the type's documentation says. `body` runs again after a
    /// redirection or a retryable error it throws, so it must be safe to repeat in that case: the
    /// server did not run the command that failed with such an error.
    func withConnection<Result>(
        slot: Int?, preferringReplica: Bool = false, _ body: (RedisConnection) async throws -> Result
    ) async throws -> Result {
        var attempt = 0
        // Where the last redirection sent the command, and whether it was an `ASK`.
        var redirected: (endpoint: RedisConfiguration.Endpoint, asking: Bool)?
        var replica = preferringReplica
        while true {
            attempt += 1
            let endpoint: RedisConfiguration.Endpoint
            let pool: RedisConnectionPool
            if let redirected {
                endpoint = redirected.endpoint
                pool = self.pool(for: endpoint)
            } else if replica, let slot, let chosen = self.topology.shard(ofSlot: slot)?.replicas.randomElement() {
                endpoint = chosen
                pool = self.replicaPool(for: chosen)
            } else {
                endpoint = try await self.endpoint(forSlot: slot)
                pool = self.pool(for: endpoint)
            }
            let isAsking = redirected?.asking == true
            redirected = nil
            do {
                return try await pool.withConnection { connection in
                    if isAsking { _ = try await connection.execute(GenericCommand("ASKING")) }
                    return try await body(connection)
                }
            } catch let error as RedisError {
                guard attempt < self.settings.maximumAttempts, !Task.isCancelled else { throw error }
                if replica, error.code == .connectionFailed || error.code == .poolTimeout {
                    // A replica that does not answer: read from the primary instead.
                    replica = false
                    continue
                }
                if let redirect = RedisClusterRedirect(error, replying: endpoint) {
                    switch redirect.kind {
                    case .moved:
                        self.factory.metrics.movedRetries.increment()
                        self.moved(redirect)
                    case .ask:
                        self.factory.metrics.askRetries.increment()
                    }
                    redirected = (redirect.endpoint, redirect.kind == .ask)
                    continue
                }
                switch error.serverErrorPrefix {
                case "TRYAGAIN":
                    self.factory.metrics.tryAgainRetries.increment()
                    try await Task.sleep(for: self.retryDelay(attempt))
                case "CLUSTERDOWN":
                    self.factory.metrics.clusterDownRetries.increment()
                    self.refreshInBackground()
                    try await Task.sleep(for: self.retryDelay(attempt))
                default:
                    guard error.code == .connectionFailed || (error.code == .poolTimeout && self.isUnreachable(endpoint)) else { throw error }
                    // The command was not sent: find the slot's new owner, then try it.
                    self.factory.metrics.unreachableRetries.increment()
                    try await Task.sleep(for: self.retryDelay(attempt))
                    _ = try? await self.refresh()
                }
            }
        }
    }

    /// For each primary that owns some of `slots`: the indices of those it owns, in the order of
    /// their first appearance.
    func partition(slots: [Int]) throws -> [[Int]] {
        let topology = self.topology
        var groups: [RedisConfiguration.Endpoint: [Int]] = [:]
        var order: [RedisConfiguration.Endpoint] = []
        for (index, slot) in slots.enumerated() {
            guard let owner = topology.primary(ofSlot: slot) else { throw Self.uncovered(slot) }
            if groups[owner] == nil { order.append(owner) }
            groups[owner, default: []].append(index)
        }
        return order.map { groups[$0]! }
    }

    /// Runs `body` once with a connection to each primary, in parallel.
    func forEachPrimary<Result: Sendable>(_ body: @escaping @Sendable (RedisConnection) async throws -> Result) async throws -> [Result] {
        let primaries = self.topology.primaries
        return try await withThrowingTaskGroup(of: Result.self) { group in
            for primary in primaries {
                let pool = self.pool(for: primary)
                group.addTask { try await pool.withConnection(body) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }

    private func retryDelay(_ attempt: Int) -> Duration {
        min(self.settings.maximumRetryDelay, .milliseconds(10) * (1 << min(attempt - 1, 10)))
    }

    private func isUnreachable(_ endpoint: RedisConfiguration.Endpoint) -> Bool {
        self.state.withLock { $0.pools[endpoint]?.openConnections ?? 0 } == 0
    }

    private static func uncovered(_ slot: Int) -> RedisError {
        RedisError(.serverError, serverMessage: "CLUSTERDOWN no node of the cluster serves hash slot \(slot)")
    }

    // MARK: the slot map

    private func endpoint(forSlot slot: Int?) async throws -> RedisConfiguration.Endpoint {
        let topology = self.topology
        if let slot {
            if let owner = topology.primary(ofSlot: slot) { return owner }
            let refreshed = try await self.refresh()
            guard let owner = refreshed.primary(ofSlot: slot) else { throw Self.uncovered(slot) }
            return owner
        }
        guard let any = topology.primaries.randomElement() else {
            let refreshed = try await self.refresh()
            guard let any = refreshed.primaries.first else { throw Self.uncovered(0) }
            return any
        }
        return any
    }

    private func moved(_ redirect: RedisClusterRedirect) {
        self.state.withLock { $0.topology.assign(slot: redirect.slot, to: redirect.endpoint) }
        self.logger.debug("redis cluster slot moved", metadata: ["redis.slot": "\(redirect.slot)", "redis.node": "\(redirect.endpoint)"])
        self.refreshInBackground()
    }

    private func refreshInBackground() {
        Task { _ = try? await self.refresh() }
    }

    /// Reads the slot map again, asking the known primaries, then the seeds, until one answers;
    /// concurrent callers share one reading. Pools of nodes that serve no slot any more are closed.
    @discardableResult
    func refresh() async throws -> RedisClusterTopology {
        let task: Task<RedisClusterTopology, any Error> = self.state.withLock { state in
            if let running = state.refreshing { return running }
            let candidates = state.topology.primaries + state.topology.shards.flatMap(\.replicas)
            let task = Task { try await self.readTopology(from: candidates) }
            state.refreshing = task
            return task
        }
        let result = await task.result
        let retired: [RedisConnectionPool] = self.state.withLock { state in
            guard state.refreshing == task else { return [] }
            state.refreshing = nil
            guard case .success(let topology) = result else { return [] }
            self.factory.metrics.topologyRefreshes.increment()
            state.topology = topology
            let primaries = Set(topology.primaries)
            let replicas = Set(topology.shards.flatMap(\.replicas))
            let gone = state.pools.keys.filter { !primaries.contains($0) }
            let goneReplicas = state.replicaPools.keys.filter { !replicas.contains($0) }
            return gone.compactMap { state.pools.removeValue(forKey: $0) } + goneReplicas.compactMap { state.replicaPools.removeValue(forKey: $0) }
        }
        for pool in retired { await pool.shutdown() }
        let topology = try result.get()
        self.factory.knownNodes.learn(topology)
        return topology
    }

    private func readTopology(from candidates: [RedisConfiguration.Endpoint]) async throws -> RedisClusterTopology {
        var tried = Set<RedisConfiguration.Endpoint>()
        var lastError: (any Error)?
        let configured = [RedisConfiguration.Endpoint(host: self.factory.configuration.host, port: self.factory.configuration.port)]
        for endpoint in candidates + configured + self.factory.configuration.seeds + self.factory.knownNodes.all where tried.insert(endpoint).inserted {
            do {
                var configuration = self.factory.configuration
                configuration.host = endpoint.host
                configuration.port = endpoint.port
                // A dead machine may drop packets instead of refusing: ask the next node soon.
                configuration.connectTimeout = min(configuration.connectTimeout, .seconds(2))
                configuration.commandTimeout = min(configuration.commandTimeout, .seconds(5))
                let connection = try await self.factory.open(configuration, on: self.eventLoopGroup.any(), onPush: nil)
                defer { connection.channel.close(mode: .all, promise: nil) }
                let topology = try await Self.readTopology(on: connection, tls: configuration.tls.isEnabled)
                guard !topology.shards.isEmpty else { continue }
                return topology
            } catch {
                lastError = error
            }
        }
        throw RedisError(.connectionFailed, serverMessage: "no node of the cluster answered with its slot map", underlying: lastError)
    }

    // MARK: pools

    /// The client's factory, connecting to `endpoint` only.
    private func factory(for endpoint: RedisConfiguration.Endpoint) -> RedisConnectionFactory {
        var configuration = self.factory.configuration
        configuration.host = endpoint.host
        configuration.port = endpoint.port
        configuration.seeds = []
        return self.factory.pinned(to: configuration)
    }

    /// The pool of connections to a primary.
    private func pool(for endpoint: RedisConfiguration.Endpoint) -> RedisConnectionPool {
        self.pool(for: endpoint, in: \.pools, readsFromReplica: false)
    }

    /// The pool of connections to a replica, which send `READONLY` when they open.
    private func replicaPool(for endpoint: RedisConfiguration.Endpoint) -> RedisConnectionPool {
        self.pool(for: endpoint, in: \.replicaPools, readsFromReplica: true)
    }

    private func pool(
        for endpoint: RedisConfiguration.Endpoint, in pools: WritableKeyPath<State, [RedisConfiguration.Endpoint: RedisConnectionPool]>,
        readsFromReplica: Bool
    ) -> RedisConnectionPool {
        self.state.withLock { state in
            if let pool = state[keyPath: pools][endpoint] { return pool }
            var factory = self.factory(for: endpoint)
            factory.readsFromReplica = readsFromReplica
            let pool = RedisConnectionPool(factory: factory, eventLoopGroup: self.eventLoopGroup, logger: self.logger)
            if state.isShutDown { Task { await pool.shutdown() } }
            state[keyPath: pools][endpoint] = pool
            return pool
        }
    }

    /// Pings idle connections of every pool.
    func checkHealth() async {
        for pool in self.state.withLock({ Array($0.pools.values) + Array($0.replicaPools.values) }) { await pool.checkHealth() }
    }

    /// Closes every pool and fails its waiters, and ends the shard subscriptions.
    func shutdown() async {
        let (pools, subscribers) = self.state.withLock { state in
            state.isShutDown = true
            state.refreshing?.cancel()
            return (Array(state.pools.values) + Array(state.replicaPools.values), Array(state.shardSubscribers.values))
        }
        for (subscriber, run) in subscribers {
            subscriber.shutdown()
            run.cancel()
        }
        for pool in pools { await pool.shutdown() }
    }

    // MARK: sharded Pub/Sub

    /// The subscription connection to `endpoint` for shard channels, started on first use.
    private func shardSubscriber(for endpoint: RedisConfiguration.Endpoint) -> RedisSubscriber {
        self.state.withLock { state in
            if let existing = state.shardSubscribers[endpoint] { return existing.subscriber }
            let subscriber = RedisSubscriber(factory: self.factory(for: endpoint), eventLoopGroup: self.eventLoopGroup, logger: self.logger) {
                [weak self] _ in self?.refreshInBackground()
            }
            let run = Task { await subscriber.run() }
            if state.isShutDown {
                subscriber.shutdown()
                run.cancel()
            }
            state.shardSubscribers[endpoint] = (subscriber, run)
            return subscriber
        }
    }

    /// Subscribes to shard channels (`SSUBSCRIBE`), each on the node that serves its slot, for the
    /// duration of `body`; their messages come in one sequence. When a channel's slot moves (the
    /// node unsubscribes it, `MOVED`, or the slot map says so) the channel is subscribed again on
    /// its new node and the sequence yields ``RedisSubscription/Gap/Reason/moved``.
    func subscribe<Result>(toShardChannels channels: [String], _ body: (RedisSubscription) async throws -> Result) async throws -> Result {
        let settings = self.factory.configuration.subscriptions
        let (stream, events) = AsyncThrowingStream.makeStream(
            of: RedisSubscription.Event.self, bufferingPolicy: .bufferingOldest(max(settings.bufferSize, 2)))
        return try await withThrowingTaskGroup(of: Void.self) { group in
            var confirmations: [AsyncStream<(any Error)?>] = []
            for channel in Array(Set(channels)).sorted() {
                let (ready, confirmed) = AsyncStream.makeStream(of: (any Error)?.self)
                confirmations.append(ready)
                group.addTask { await self.follow(shardChannel: channel, into: events, confirmed: confirmed) }
            }
            do {
                for ready in confirmations {
                    for await outcome in ready {
                        if let outcome { throw outcome }
                        break
                    }
                }
                let result = try await body(RedisSubscription(stream: stream))
                group.cancelAll()
                events.finish()
                return result
            } catch {
                group.cancelAll()
                events.finish()
                throw error
            }
        }
    }

    /// Keeps one shard channel subscribed on the node of its slot until cancelled, forwarding its
    /// events; `confirmed` gets `nil` once the first subscription is live, or the error that kept
    /// it from being made.
    private func follow(
        shardChannel channel: String, into events: AsyncThrowingStream<RedisSubscription.Event, any Error>.Continuation,
        confirmed: AsyncStream<(any Error)?>.Continuation
    ) async {
        let slot = RedisClusterSlot.of(channel)
        let target = RedisSubscriptionTarget(kind: .shard, name: channel)
        var live = false
        var attempt = 0
        while !Task.isCancelled {
            var endpoint: RedisConfiguration.Endpoint?
            do {
                let node = try await self.endpoint(forSlot: slot)
                endpoint = node
                try await self.shardSubscriber(for: node).subscribe(to: [target]) { subscription in
                    if live {
                        events.yield(.gap(RedisSubscription.Gap(reason: .moved, droppedMessages: nil)))
                    } else {
                        confirmed.yield(nil)
                        confirmed.finish()
                        live = true
                    }
                    attempt = 0
                    try await withThrowingTaskGroup(of: Void.self) { watch in
                        watch.addTask { for try await event in subscription { events.yield(event) } }
                        // The slot map is corrected by `MOVED`, read again when a node unsubscribes
                        // the channel, and every refresh interval.
                        watch.addTask { while self.topology.primary(ofSlot: slot) == node { try await Task.sleep(for: .milliseconds(50)) } }
                        _ = try await watch.next()
                        watch.cancelAll()
                    }
                }
            } catch {
                if Task.isCancelled { break }
                attempt += 1
                if let error = error as? RedisError {
                    if error.code == .clientShutdown {
                        events.finish(throwing: error)
                        break
                    }
                    if let endpoint, let redirect = RedisClusterRedirect(error, replying: endpoint), redirect.kind == .moved {
                        self.moved(redirect)
                    } else {
                        self.refreshInBackground()
                    }
                }
                if !live, attempt >= self.settings.maximumAttempts {
                    confirmed.yield(error)
                    confirmed.finish()
                    return
                }
                try? await Task.sleep(for: self.retryDelay(attempt))
            }
        }
        confirmed.finish()
    }
}
