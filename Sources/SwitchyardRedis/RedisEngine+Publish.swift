import Logging
import NIOCore
import RESP
import RedisClient
import Switchyard

extension RedisEngine {
    /// Stores the batch with one pipelined `EVALSHA` of `publish.lua` per channel.
    ///
    /// While Redis is unreachable the batch goes to the spool (fsynced) and the receipts carry
    /// sequence number 0 and the position ``RedisEngine/spooledPosition``; the events get their
    /// numbers when the spool is replayed. While the spool holds events, new publishes join it,
    /// so the order is kept.
    ///
    /// The rate limit is taken per channel by the script. A batch over several channels is first
    /// checked against every channel's bucket, so a refusal stores nothing; only another process
    /// taking tokens between that check and the publish can still refuse one channel of it.
    /// - Throws: ``SwitchyardError``: `rate_limited`; `engine_unavailable` when Redis is unreachable
    ///   and ``Configuration/failFast`` is set or there is no spool; `spool_full` when the spool is at its bound.
    public func append(_ requests: [AppendRequest]) async throws(SwitchyardError) -> [PublishReceipt] {
        guard !requests.isEmpty else { return [] }
        let spool = configuration.failFast ? nil : self.spool
        if let spool, try await spool.appendIfSpooling(requests) {
            return requests.map(Self.spooledReceipt)
        }
        do {
            return try await store(requests, enforcesRateLimits: true)
        } catch let failure {
            guard failure.unreachable else { throw failure.error }
            guard let spool else {
                throw SwitchyardError(
                    .engineUnavailable, "Redis is unreachable and the publish was not stored (\(configuration.failFast ? "fail-fast" : "no spool"))",
                    details: ["redis_error": .string(failure.error.message)])
            }
            try await spool.append(requests)
            logger.warning("Redis is unreachable: publishes go to the local spool", metadata: ["events": "\(requests.count)"])
            return requests.map(Self.spooledReceipt)
        }
    }

    /// The position in the receipt of a spooled publish: the event has no stream id yet
    /// (``Switchyard/StreamPosition/spooled``).
    public static let spooledPosition = StreamPosition.spooled

    static func spooledReceipt(_ request: AppendRequest) -> PublishReceipt {
        PublishReceipt.spooled(eventID: request.eventID, channel: request.channel, timestamp: request.timestamp)
    }

    /// A failed store, and whether Redis could not be reached (so the batch may be spooled).
    struct StoreFailure: Error {
        var error: SwitchyardError
        var unreachable: Bool
    }

    /// Whether a publish with this acknowledgement waits for a replica.
    func waitsForReplica(_ acknowledgement: AppendRules.Acknowledgement) -> Bool {
        switch acknowledgement {
        case .primary: false
        case .replicated: true
        case .replicatedWhereReplicas:
            configuration.keepsReplicas ?? (client.configuration.sentinel != nil || client.knownClusterTopology?.shards.allSatisfy { !$0.replicas.isEmpty } == true)
        }
    }

    /// Runs the publish script for every channel of the batch in one pipeline per Redis node (one on
    /// a single server, ``RedisClient/withConnectionPerNode(forKeys:_:)``), loading it on `NOSCRIPT`. On a cluster, a script a node refused because its
    /// slot moved or is moving (`MOVED`, `ASK`, `TRYAGAIN`, `CLUSTERDOWN`) did not run, and runs again
    /// on its own through the client, which finds the slot's node.
    /// - Parameter state: A state key the script sets with the event (a batch of one channel only).
    ///   On a cluster, a state key in another hash slot than the channel's is set right after the
    ///   script, by its own `SET`.
    func store(_ requests: [AppendRequest], enforcesRateLimits: Bool, state: StateAssignment? = nil) async throws(StoreFailure) -> [PublishReceipt] {
        let now = clock.now().unixMilliseconds
        var calls = PublishScript.calls(for: requests, now: now, configuration: configuration, enforcesRateLimits: enforcesRateLimits)
        var separateState: StateAssignment?
        var replies: [Result<RESPValue, RedisError>]
        var replicas: Int?
        do {
            let isCluster = try await client.isCluster
            let waits = requests.contains { waitsForReplica($0.rules.acknowledgement) }
            if let state {
                let streamKey = RedisKeys(calls[calls.count - 1].channel).stream
                if isCluster, RedisClusterSlot.of(state.key.rawValue) != RedisClusterSlot.of(streamKey) {
                    separateState = state
                } else {
                    calls[calls.count - 1].setting(state)
                }
            }
            if enforcesRateLimits, calls.count > 1 { try await checkTokens(calls, now: now) }
            let scripts = calls
            let perNode = try await client.withConnectionPerNode(forKeys: scripts.map { $0.command.routingKey ?? "" }) { connection, indices in
                try await self.pipeline(indices.map { scripts[$0] }, waits: waits, on: connection)
            }
            replies = Array(repeating: .failure(RedisError(.clientShutdown)), count: calls.count)
            for (indices, (nodeReplies, nodeReplicas)) in perNode {
                for (index, reply) in zip(indices, nodeReplies) { replies[index] = reply }
                if let nodeReplicas { replicas = min(replicas ?? nodeReplicas, nodeReplicas) }
            }
            for index in replies.indices where replies[index].isClusterRedirection {
                let call = calls[index]
                let (reply, callReplicas) = try await client.withConnection(forKey: call.command.routingKey ?? "") { connection in
                    let reply = try await connection.execute(RedisEngineScripts.publish, keys: call.command.keys, arguments: call.command.arguments)
                    return (reply, waits ? try await connection.execute(WAIT(replicas: 1, timeout: configuration.replicationTimeout)) : nil)
                }
                replies[index] = .success(reply)
                if let callReplicas { replicas = min(replicas ?? callReplicas, callReplicas) }
            }
        } catch let failure as StoreFailure {
            throw failure
        } catch let error as SwitchyardError {
            throw StoreFailure(error: error, unreachable: false)
        } catch {
            throw StoreFailure(error: .redis(error, "publishing"), unreachable: (error as? RedisError)?.meansUnreachable ?? false)
        }
        var receipts = [PublishReceipt?](repeating: nil, count: requests.count)
        var refusal: SwitchyardError?
        var storedChannels: [ChannelName] = []
        for (call, reply) in zip(calls, replies) {
            let value: RESPValue
            switch reply {
            case .success(let success): value = success
            case .failure(let error): throw StoreFailure(error: .redis(error, "publishing to \(call.channel)"), unreachable: error.meansUnreachable)
            }
            do {
                switch try call.outcome(value, requests: requests) {
                case .rateLimited(let error):
                    refusal = refusal ?? error
                case .stored(let stored, let trimmed):
                    for (index, receipt) in zip(call.indices, stored) { receipts[index] = receipt }
                    storedChannels.append(call.channel)
                    if trimmed > 0 { reportHardCap(call.channel, trimmed) }
                }
            } catch {
                throw StoreFailure(error: error, unreachable: false)
            }
        }
        await register(storedChannels)
        if let refusal { throw StoreFailure(error: refusal, unreachable: false) }
        // As the script does: only when the call's last event was stored, not for a duplicate.
        if let separateState, let last = receipts.last ?? nil, !last.duplicate {
            do {
                try await setState(separateState)
            } catch {
                throw StoreFailure(error: error, unreachable: false)
            }
        }
        if let replicas, replicas < 1 {
            throw StoreFailure(
                error: SwitchyardError(
                    .engineUnavailable,
                    "stored on the Redis primary, but no replica confirmed it within \(configuration.replicationTimeout); retry with the same event_id, which is stored once",
                    details: ["replication": "unconfirmed", "channels": .array(storedChannels.map { .string($0.rawValue) })]),
                unreachable: false)
        }
        return receipts.map { $0! }
    }

    /// The scripts of `calls` in one pipeline on `connection`, reloaded on `NOSCRIPT`, then `WAIT 1`
    /// on the same connection when `waits` (it covers every write the connection made, the scripts'
    /// included, and a duplicate's first store, made on the primary before).
    private func pipeline(
        _ calls: [PublishScript], waits: Bool, on connection: RedisConnection
    ) async throws -> ([Result<RESPValue, RedisError>], Int?) {
        var replies = try await connection.pipeline(calls.map(\.command))
        let missing = replies.indices.filter { replies[$0].isNoScript }
        if !missing.isEmpty {
            _ = try await connection.execute(SCRIPT.LOAD(RedisEngineScripts.publish.source))
            let again = try await connection.pipeline(missing.map { calls[$0].command })
            for (index, reply) in zip(missing, again) { replies[index] = reply }
        }
        guard waits else { return (replies, nil) }
        return (replies, try await connection.execute(WAIT(replicas: 1, timeout: configuration.replicationTimeout)))
    }

    /// Refuses the batch when one of its channels' buckets lacks the tokens (a read-only check).
    private func checkTokens(_ calls: [PublishScript], now: Int64) async throws {
        let limited = calls.filter { $0.rules.rateLimit != nil }
        guard !limited.isEmpty else { return }
        for call in limited {
            let limit = call.rules.rateLimit!
            let arguments = [limit.perSecond, limit.burst, Int(now), call.indices.count].map { ByteBuffer(string: String($0)) }
            let wait = try await client.execute(RedisEngineScripts.peekTokens, keys: [RedisKeys(call.channel).rate(source: call.source)], arguments: arguments)
            if let milliseconds = wait.int, milliseconds > 0 {
                throw SwitchyardError.rateLimited(channel: call.channel, source: call.source, limit: limit, retryAfter: .milliseconds(milliseconds))
            }
        }
    }

    func reportHardCap(_ channel: ChannelName, _ count: Int) {
        hardCapTrims.increment(by: Int64(count))
        logger.warning(
            "hard cap trimmed entries a group had not been delivered",
            metadata: ["channel": "\(channel)", "count": "\(count)", "max_entries": "\(configuration.maxEntriesPerChannel)"])
    }

    /// While running: whenever the spool holds events and Redis answers, replays them in order
    /// (rate limits off, dedup on), then truncates the spool.
    func replaySpoolWhileRunning() async {
        guard let spool else { return }
        while !Task.isCancelled {
            do { try await Task.sleep(for: configuration.spoolRetryInterval) } catch { return }
            do {
                guard try await spool.depth > 0 else { continue }
                _ = try await client.execute(PING())
                try await replay(spool)
            } catch {
                logger.debug("the spool waits for Redis", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Replays the spool batch by batch; stops at the first failure (the rest stays spooled).
    func replay(_ spool: Spool) async throws {
        var replayed = 0
        while true {
            let batch = try await spool.next(limit: 512)
            if batch.requests.isEmpty { break }
            do {
                _ = try await store(batch.requests, enforcesRateLimits: false)
            } catch {
                throw error.error
            }
            try await spool.acknowledge(batch)
            replayed += batch.requests.count
        }
        if replayed > 0 { logger.info("replayed the spool into Redis", metadata: ["events": "\(replayed)"]) }
    }
}

extension Result where Failure == RedisError {
    /// Whether the server did not know the script (so it did not run).
    var isNoScript: Bool {
        if case .failure(let error) = self { return error.serverErrorPrefix == "NOSCRIPT" }
        return false
    }

    /// Whether a cluster node did not run the command because of where its slot is (so it did not run).
    var isClusterRedirection: Bool {
        if case .failure(let error) = self { return error.isClusterRedirection }
        return false
    }
}
