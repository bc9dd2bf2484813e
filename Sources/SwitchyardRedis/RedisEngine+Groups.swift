import RESP
import RedisClient
import Switchyard

extension RedisEngine {
    /// `XGROUP CREATE stream:{C} GROUP 0|$ MKSTREAM`; an existing group (`BUSYGROUP`) is left as it is.
    public func createGroup(_ group: String, on channel: ChannelName, start: GroupStart) async throws(SwitchyardError) {
        do {
            _ = try await client.execute(XGROUP.CREATE(RedisKeys(channel).stream, group: group, id: start == .newest ? "$" : "0", makeStream: true))
        } catch let error as RedisError where error.serverErrorPrefix == "BUSYGROUP" {
            return
        } catch {
            throw SwitchyardError.redis(error, "creating group '\(group)' on \(channel)")
        }
    }

    /// One `XREADGROUP ... COUNT ... BLOCK ... STREAMS ... >` over every channel of the request,
    /// `COUNT` being the request's count shared out over the channels (at least 1 each, so with more
    /// channels than `count` a read may return one entry per channel).
    ///
    /// When the request follows patterns, the block is cut to ``Configuration/patternPollInterval``
    /// so the caller looks for new channels often enough; with no channel yet, it waits that long
    /// (or until a matching channel appears) and returns nothing. Unreadable entries are moved to
    /// the dead letters with an `invalid_envelope` reason.
    /// - Throws: `group_not_found` when the group is missing on a channel.
    public func readGroup(_ request: GroupReadRequest) async throws(SwitchyardError) -> [Delivery] {
        var block = request.block
        if !request.watching.isEmpty, let wait = block { block = min(wait, configuration.patternPollInterval) }
        guard !request.channels.isEmpty else {
            if let block { try await waitForChannels(request.watching, timeout: block) }
            return []
        }
        let keys = request.channels.map { RedisKeys($0).stream }
        let share = max(1, request.count / request.channels.count)
        let reads: [StreamRead]
        do {
            if keys.count > 1, try await client.isCluster {
                reads = try await readAcrossSlots(request, keys: keys, count: share, block: block)
            } else {
                reads = try await client.execute(
                    XREADGROUP(
                        group: request.group, consumer: request.consumer, streams: keys.map { ($0, ">") }, count: share,
                        block: block.map { max($0, .milliseconds(1)) }))
            }
        } catch {
            throw SwitchyardError.redis(error, "reading group '\(request.group)'")
        }
        var deliveries: [Delivery] = []
        for read in reads {
            guard let channel = RedisKeys.channel(ofStreamKey: read.stream) else { continue }
            for entry in read.entries {
                guard let envelope = Self.envelope(of: entry) else {
                    try await deadLetterUnreadable(entry, group: request.group, channel: channel)
                    continue
                }
                deliveries.append(Delivery(channel: channel, position: StreamPosition(entry.id), envelope: envelope, deliveries: 1))
            }
        }
        return deliveries
    }

    /// The group read of channels in several hash slots of a cluster, where one `XREADGROUP` may
    /// name keys of one slot only: a non-blocking `XREADGROUP` per channel, pipelined per node.
    /// When they find nothing and the read may block, the live Pub/Sub messages of the channels
    /// (their patterns when the request follows patterns) are the doorbell: subscribed, the
    /// channels are read once more (for what came in between), then again at the first message or
    /// when `block` (at most ``Configuration/patternPollInterval``) has passed, whichever is first.
    /// A channel published without a live message (`live_message: none`) is read at that interval.
    private func readAcrossSlots(_ request: GroupReadRequest, keys: [String], count: Int, block: Duration?) async throws -> [StreamRead] {
        let first = try await readEach(request, keys: keys, count: count)
        guard first.allSatisfy({ $0.entries.isEmpty }), let block else { return first }
        let wait = min(block, configuration.patternPollInterval)
        let names = request.watching.isEmpty ? request.channels.map(\.rawValue) : request.watching.map(\.rawValue)
        return try await client.subscribe(toPatterns: names + names.map { Self.companionChannelPrefix + $0 }) { subscription in
            let again = try await readEach(request, keys: keys, count: count)
            guard again.allSatisfy({ $0.entries.isEmpty }) else { return again }
            _ = await result(within: wait) { () async -> Bool in
                do {
                    for try await event in subscription {
                        if case .message = event { return true }
                    }
                } catch {}
                return false
            }
            return try await readEach(request, keys: keys, count: count)
        }
    }

    /// A non-blocking `XREADGROUP … >` per stream, in one pipeline per node (``RedisClient/pipeline(_:)``,
    /// which runs again on its own a read that a node refused for where its slot is).
    private func readEach(_ request: GroupReadRequest, keys: [String], count: Int) async throws -> [StreamRead] {
        let commands = keys.map { XREADGROUP(group: request.group, consumer: request.consumer, streams: [($0, ">")], count: count, block: nil) }
        return try await client.pipeline(commands).flatMap { try $0.get() }
    }

    /// Waits until a channel matching a pattern exists, polling, for at most `timeout`.
    private func waitForChannels(_ patterns: [ChannelPattern], timeout: Duration) async throws(SwitchyardError) {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if !patterns.isEmpty, try await !channels(matching: patterns).isEmpty { return }
            let pause = min(configuration.patternPollInterval, deadline - ContinuousClock.now)
            do { try await Task.sleep(for: max(pause, .milliseconds(1))) } catch { return }
        }
    }

    /// `XACK`.
    public func ack(_ group: String, on channel: ChannelName, positions: [StreamPosition]) async throws(SwitchyardError) -> Int {
        let ids = positions.compactMap(\.redisStreamID)
        guard !ids.isEmpty else { return 0 }
        do {
            return try await client.execute(XACK(RedisKeys(channel).stream, group: group, ids: ids))
        } catch {
            throw SwitchyardError.redis(error, "acking in group '\(group)' on \(channel)")
        }
    }

    /// `XAUTOCLAIM` from the request's cursor, then `XPENDING` for the claimed entries' delivery
    /// counts; entries deleted from the stream under the pending list are acked and returned in
    /// ``ClaimResult/deleted``.
    public func claim(_ request: ClaimRequest) async throws(SwitchyardError) -> ClaimResult {
        guard let cursor = request.cursor.redisStreamID else {
            throw SwitchyardError(.invalidPosition, "not a stream id: \(request.cursor.rawValue.prefix(40))")
        }
        let key = RedisKeys(request.channel).stream
        do {
            let result = try await client.execute(
                XAUTOCLAIM(key, group: request.group, consumer: request.consumer, minimumIdle: request.minIdle, start: cursor, count: request.count))
            if !result.deleted.isEmpty {
                _ = try await client.execute(XACK(key, group: request.group, ids: result.deleted))
            }
            var counts: [StreamID: Int] = [:]
            if let first = result.entries.first?.id, let last = result.entries.last?.id {
                let pending = try await client.execute(
                    XPENDING.Extended(key, group: request.group, start: first.description, end: last.description, count: result.entries.count, consumer: request.consumer))
                for entry in pending { counts[entry.id] = entry.deliveries }
            }
            var deliveries: [Delivery] = []
            for entry in result.entries {
                guard let envelope = Self.envelope(of: entry) else {
                    try await deadLetterUnreadable(entry, group: request.group, channel: request.channel)
                    continue
                }
                deliveries.append(
                    Delivery(channel: request.channel, position: StreamPosition(entry.id), envelope: envelope, deliveries: counts[entry.id] ?? 1))
            }
            return ClaimResult(
                deliveries: deliveries, cursor: result.next == .zero ? .start : StreamPosition(result.next),
                deleted: result.deleted.map { StreamPosition($0) })
        } catch {
            throw SwitchyardError.redis(error, "claiming in group '\(request.group)' on \(request.channel)")
        }
    }

    /// `XINFO GROUPS` for the lag, `XPENDING` for the pending entries per consumer.
    public func groupInfo(_ group: String, on channel: ChannelName) async throws(SwitchyardError) -> GroupInfo {
        let key = RedisKeys(channel).stream
        do {
            let groups = try await client.execute(XINFO.GROUPS(key))
            guard let info = groups.first(where: { $0.name == group }) else {
                throw SwitchyardError(.groupNotFound, "group '\(group)' does not exist on channel '\(channel)'")
            }
            let summary = try await client.execute(XPENDING(key, group: group))
            var lag = info.lag
            if lag == nil {
                let after = try await client.execute(XRANGE(key, start: "(\(info.lastDeliveredID)", end: "+", count: 100_000))
                lag = after.count
            }
            var oldestIdle: Duration?
            if summary.count > 0 { oldestIdle = try await client.execute(XPENDING.Extended(key, group: group, count: 1)).first?.idle }
            return GroupInfo(
                group: group, channel: channel, pending: summary.count, pendingByConsumer: summary.consumers, lag: lag ?? 0,
                oldestPendingIdle: oldestIdle)
        } catch let error as RedisError where error.serverMessage?.contains("no such key") == true {
            throw SwitchyardError(.groupNotFound, "group '\(group)' does not exist on channel '\(channel)'")
        } catch {
            throw SwitchyardError.redis(error, "reading group '\(group)' on \(channel)")
        }
    }
}
