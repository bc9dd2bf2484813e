import NIOCore
import RESP

/// The subscriptions of one client and its subscription connection, as plain state guarded by
/// ``RedisSubscriber``'s lock.
struct RedisSubscriberState {
    struct Entry {
        var targets: [RedisSubscriptionTarget]
        var continuation: AsyncThrowingStream<RedisSubscription.Event, any Error>.Continuation
        var dropped = 0
        var isConfirmed = false
    }

    var entries: [Int: Entry] = [:]
    var index: [RedisSubscriptionTarget: Set<Int>] = [:]
    var nextID = 0
    var connection: RedisConnection?
    var isReady = false
    var readyWaiters: [Int: CheckedContinuation<Void, any Error>] = [:]
    var runLoopWaiter: CheckedContinuation<Void, Never>?
    var isShutdown = false

    /// Registers a subscription; returns its id and the targets nobody was subscribed to yet.
    mutating func register(
        _ targets: [RedisSubscriptionTarget],
        continuation: AsyncThrowingStream<RedisSubscription.Event, any Error>.Continuation
    ) -> (id: Int, new: [RedisSubscriptionTarget]) {
        self.nextID += 1
        let id = self.nextID
        self.entries[id] = Entry(targets: targets, continuation: continuation)
        var new: [RedisSubscriptionTarget] = []
        for target in targets {
            if self.index[target, default: []].isEmpty { new.append(target) }
            self.index[target, default: []].insert(id)
        }
        return (id, new)
    }

    /// Removes a subscription; returns the targets nobody listens to any more.
    mutating func unregister(_ id: Int) -> [RedisSubscriptionTarget] {
        guard let entry = self.entries.removeValue(forKey: id) else { return [] }
        entry.continuation.finish()
        var unused: [RedisSubscriptionTarget] = []
        for target in entry.targets {
            self.index[target]?.remove(id)
            if self.index[target]?.isEmpty == true {
                self.index[target] = nil
                unused.append(target)
            }
        }
        return unused
    }

    var allTargets: [RedisSubscriptionTarget] { Array(self.index.keys) }

    /// Ends every subscription to a target the server refused on resubscription.
    mutating func fail(_ target: RedisSubscriptionTarget, with error: RedisError) {
        for id in self.index[target] ?? [] {
            guard let entry = self.entries.removeValue(forKey: id) else { continue }
            entry.continuation.finish(throwing: error)
            for other in entry.targets {
                self.index[other]?.remove(id)
                if self.index[other]?.isEmpty == true { self.index[other] = nil }
            }
        }
    }

    /// Delivers one message to every subscription listening to `target`, applying the overflow policy.
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

    /// Marks every subscription as live on the server; those that were live before get a gap.
    mutating func markReady() -> [CheckedContinuation<Void, any Error>] {
        self.isReady = true
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

    mutating func confirm(_ id: Int) {
        self.entries[id]?.isConfirmed = true
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
