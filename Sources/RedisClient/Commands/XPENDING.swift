import NIOCore
import RESP

/// `XPENDING key group`: a summary of a group's pending entries.
public struct XPENDING: RedisCommand {
    /// The summary of a group's pending entries.
    public struct Summary: Sendable, Hashable {
        /// The number of pending entries.
        public var count: Int
        /// The smallest pending id, `nil` when none is pending.
        public var smallest: StreamID?
        /// The greatest pending id, `nil` when none is pending.
        public var greatest: StreamID?
        /// Each consumer with pending entries and how many it has.
        public var consumers: [String: Int]
    }

    /// One pending entry, from ``XPENDING/Extended``.
    public struct Entry: Sendable, Hashable, RESPDecodable {
        /// The entry's id.
        public var id: StreamID
        /// The consumer it was delivered to.
        public var consumer: String
        /// Time since it was last delivered.
        public var idle: Duration
        /// How many times it was delivered.
        public var deliveries: Int

        /// Reads `[id, consumer, idle-ms, deliveries]`.
        public init(resp value: RESPValue) throws(RedisError) {
            guard let e = value.elements, e.count == 4, let consumer = e[1].string, let idle = e[2].int, let deliveries = e[3].int
            else { throw .unexpected(value, expected: "pending entry") }
            self.id = try StreamID(resp: e[0])
            self.consumer = consumer
            self.idle = .milliseconds(idle)
            self.deliveries = deliveries
        }
    }

    /// `XPENDING key group [IDLE ms] start end count [consumer]`: pending entries in detail.
    public struct Extended: RedisCommand {
        /// The command's reply type.
        public typealias Response = [Entry]
        /// The stream's key.
        public var key: String
        /// The group.
        public var group: String
        /// Only entries idle at least this long.
        public var minimumIdle: Duration?
        /// The first id (`-` for the oldest).
        public var start: String
        /// The last id (`+` for the newest).
        public var end: String
        /// The most entries to return.
        public var count: Int
        /// Only this consumer's entries.
        public var consumer: String?

        /// Creates the command.
        public init(
            _ key: String,
            group: String,
            minimumIdle: Duration? = nil,
            start: String = "-",
            end: String = "+",
            count: Int,
            consumer: String? = nil
        ) {
            self.key = key
            self.group = group
            self.minimumIdle = minimumIdle
            self.start = start
            self.end = end
            self.count = count
            self.consumer = consumer
        }

        /// Writes the command.
        public func encode(into encoder: inout RESPCommandEncoder) {
            encoder.encode(
                "XPENDING",
                self.key,
                self.group,
                self.minimumIdle.map { ["IDLE", String(XREAD.milliseconds($0))] },
                self.start,
                self.end,
                self.count,
                self.consumer
            )
        }
    }

    /// The command's reply type.
    public typealias Response = Summary
    /// The stream's key.
    public var key: String
    /// The group.
    public var group: String

    /// Creates the command.
    public init(_ key: String, group: String) {
        self.key = key
        self.group = group
    }

    /// Writes `XPENDING key group`.
    public func encode(into encoder: inout RESPCommandEncoder) { encoder.encode("XPENDING", self.key, self.group) }

    /// Reads `[count, smallest, greatest, [[consumer, count]...]]`.
    public func decodeResponse(_ value: RESPValue) throws(RedisError) -> Summary {
        guard let e = value.elements, e.count == 4, let count = e[0].int else { throw .unexpected(value, expected: "pending summary") }
        var consumers: [String: Int] = [:]
        for consumer in e[3].elements ?? [] {
            guard let pair = consumer.elements, pair.count == 2, let name = pair[0].string, let pending = pair[1].int else {
                throw .unexpected(value, expected: "pending consumer")
            }
            consumers[name] = pending
        }
        return Summary(
            count: count,
            smallest: e[1].isNull ? nil : try StreamID(resp: e[1]),
            greatest: e[2].isNull ? nil : try StreamID(resp: e[2]),
            consumers: consumers
        )
    }
}
