/// Everything the embedded engine holds, behind one `Mutex`.
struct EmbeddedEngineState {
    struct RateKey: Hashable {
        var source: String
        var channel: ChannelName
    }

    struct LiveSubscriber {
        var patterns: [ChannelPattern]
        var continuation: AsyncStream<Envelope>.Continuation
    }

    /// A reader waiting for new entries: signalled before or after it parks, never lost.
    struct Waiter {
        var channels: Set<ChannelName>
        var patterns: [ChannelPattern]
        var signalled = false
        var continuation: CheckedContinuation<Void, Never>?
    }

    var channels: [ChannelName: ChannelState] = [:]
    var buckets: [RateKey: TokenBucket] = [:]
    var subscribers: [Int: LiveSubscriber] = [:]
    var waiters: [Int: Waiter] = [:]
    var stateKeys: [StateKey: StateSlot] = [:]
    var nextToken = 0

    mutating func token() -> Int {
        nextToken += 1
        return nextToken
    }

    /// Sends an appended envelope to the live subscribers whose patterns match its channel.
    func notifySubscribers(_ envelope: Envelope) {
        for subscriber in subscribers.values where subscriber.patterns.contains(where: { $0.matches(envelope.channel) }) {
            subscriber.continuation.yield(envelope)
        }
    }

    /// Signals the waiters reading `channel`, or following a pattern it matches when it is new;
    /// returns the continuations to resume once the lock is released.
    mutating func signalWaiters(on channel: ChannelName, isNew: Bool) -> [CheckedContinuation<Void, Never>] {
        var ready: [CheckedContinuation<Void, Never>] = []
        for (token, waiter) in waiters
        where waiter.channels.contains(channel) || (isNew && waiter.patterns.contains { $0.matches(channel) }) {
            if let continuation = waiter.continuation {
                ready.append(continuation)
                waiters[token] = nil
            } else {
                waiters[token]?.signalled = true
            }
        }
        return ready
    }
}

/// A token bucket: `perSecond` tokens a second, holding at most `burst`.
package struct TokenBucket: Sendable {
    var tokens: Double
    var updatedAt: Int64

    package init(limit: ChannelPolicy.RateLimit, now: Int64) {
        tokens = Double(limit.burst)
        updatedAt = now
    }

    /// Refills for the time passed, then takes `count` tokens if there are that many; otherwise
    /// returns how long until there will be.
    package mutating func take(_ count: Int, limit: ChannelPolicy.RateLimit, now: Int64) -> Duration? {
        let elapsed = Double(max(0, now - updatedAt)) / 1000
        tokens = min(Double(limit.burst), tokens + elapsed * Double(limit.perSecond))
        updatedAt = max(updatedAt, now)
        if tokens >= Double(count) {
            tokens -= Double(count)
            return nil
        }
        guard limit.perSecond > 0 else { return .seconds(3600) }
        let missing = Double(count) - tokens
        return .milliseconds(Int64((missing / Double(limit.perSecond) * 1000).rounded(.up)))
    }
}
