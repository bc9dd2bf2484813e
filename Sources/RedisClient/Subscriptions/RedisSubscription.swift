import NIOCore

/// The events of a subscription, as an `AsyncSequence`: messages, and gaps where messages may
/// have been missed. Get one from ``RedisClient/subscribe(to:_:)``; it ends when that closure returns.
public struct RedisSubscription: AsyncSequence, Sendable {
    /// One event of a subscription.
    public enum Event: Sendable, Hashable {
        /// A published message.
        case message(RedisPubSubMessage)
        /// Messages may have been missed here: backfill from a durable source (a stream) if it matters.
        case gap(Gap)
    }

    /// Why messages may have been missed.
    public struct Gap: Sendable, Hashable {
        /// The cause of a gap.
        public struct Reason: Sendable, Hashable, CustomStringConvertible {
            let name: String
            /// The connection dropped and the client has reconnected and resubscribed.
            public static let reconnected = Reason(name: "reconnected")
            /// The buffer was full and new messages were dropped.
            public static let overflow = Reason(name: "overflow")
            /// On a cluster, a shard channel's slot moved to another node, where the client
            /// subscribed to it again.
            public static let moved = Reason(name: "moved")
            /// The reason's name.
            public var description: String { self.name }
        }

        /// The cause.
        public var reason: Reason
        /// How many messages were dropped, when known (``Reason/overflow``); `nil` after a reconnect.
        public var droppedMessages: Int?

        /// Creates a gap.
        public init(reason: Reason, droppedMessages: Int?) {
            self.reason = reason
            self.droppedMessages = droppedMessages
        }
    }

    /// The element type.
    public typealias Element = Event

    let stream: AsyncThrowingStream<Event, any Error>

    /// Creates the iterator.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: self.stream.makeAsyncIterator())
    }

    /// Iterates over a subscription's events.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncThrowingStream<Event, any Error>.AsyncIterator

        /// The next event, or `nil` when the subscription has ended.
        /// - Throws: ``RedisError`` with ``RedisError/Code/subscriptionOverflow`` under the
        ///   ``RedisConfiguration/OverflowPolicy/fail`` policy, or ``RedisError/Code/clientShutdown``.
        public mutating func next() async throws -> Event? {
            try await self.base.next()
        }
    }
}

/// A message received on a subscription.
public struct RedisPubSubMessage: Sendable, Hashable {
    /// The channel it was published to.
    public var channel: String
    /// The pattern that matched, for pattern subscriptions.
    public var pattern: String?
    /// Whether it came through sharded pub/sub (`SPUBLISH`).
    public var isSharded: Bool
    /// The message.
    public var payload: ByteBuffer

    /// Creates a message.
    public init(channel: String, pattern: String? = nil, isSharded: Bool = false, payload: ByteBuffer) {
        self.channel = channel
        self.pattern = pattern
        self.isSharded = isSharded
        self.payload = payload
    }
}

/// What a subscription listens to.
struct RedisSubscriptionTarget: Hashable, Sendable {
    enum Kind: Hashable, Sendable {
        case channel, pattern, shard

        var subscribe: String {
            switch self {
            case .channel: "SUBSCRIBE"
            case .pattern: "PSUBSCRIBE"
            case .shard: "SSUBSCRIBE"
            }
        }

        var unsubscribe: String {
            switch self {
            case .channel: "UNSUBSCRIBE"
            case .pattern: "PUNSUBSCRIBE"
            case .shard: "SUNSUBSCRIBE"
            }
        }
    }

    var kind: Kind
    var name: String
}
