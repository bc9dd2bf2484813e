import NIOCore
import RESP

/// `XGROUP ...` commands.
public enum XGROUP {
    /// `XGROUP CREATE key group id [MKSTREAM]`.
    public struct CREATE: RedisCommand {
        /// The command's reply type.
        public typealias Response = Bool
        /// The stream's key.
        public var key: String
        /// The group.
        public var group: String
        /// The last id the group has seen: `$` for only new entries, `0` for all.
        public var id: String
        /// Whether to create an empty stream when none exists (`MKSTREAM`).
        public var makeStream: Bool
        /// Creates the command.
        public init(_ key: String, group: String, id: String = "$", makeStream: Bool = false) {
            self.key = key
            self.group = group
            self.id = id
            self.makeStream = makeStream
        }
        /// Writes the command.
        public func encode(into encoder: inout RESPCommandEncoder) {
            encoder.encode("XGROUP", "CREATE", self.key, self.group, self.id, self.makeStream ? "MKSTREAM" : nil)
        }
    }

    /// `XGROUP SETID key group id`.
    public struct SETID: RedisCommand {
        /// The command's reply type.
        public typealias Response = Bool
        /// The stream's key.
        public var key: String
        /// The group.
        public var group: String
        /// The group's new last-delivered id.
        public var id: String
        /// Creates the command.
        public init(_ key: String, group: String, id: String) {
            self.key = key
            self.group = group
            self.id = id
        }
        /// Writes the command.
        public func encode(into encoder: inout RESPCommandEncoder) { encoder.encode("XGROUP", "SETID", self.key, self.group, self.id) }
    }

    /// `XGROUP DESTROY key group`: whether the group existed.
    public struct DESTROY: RedisCommand {
        /// The command's reply type.
        public typealias Response = Bool
        /// The stream's key.
        public var key: String
        /// The group.
        public var group: String
        /// Creates the command.
        public init(_ key: String, group: String) {
            self.key = key
            self.group = group
        }
        /// Writes the command.
        public func encode(into encoder: inout RESPCommandEncoder) { encoder.encode("XGROUP", "DESTROY", self.key, self.group) }
    }

    /// `XGROUP DELCONSUMER key group consumer`: the number of entries the consumer had pending.
    public struct DELCONSUMER: RedisCommand {
        /// The command's reply type.
        public typealias Response = Int
        /// The stream's key.
        public var key: String
        /// The group.
        public var group: String
        /// The consumer.
        public var consumer: String
        /// Creates the command.
        public init(_ key: String, group: String, consumer: String) {
            self.key = key
            self.group = group
            self.consumer = consumer
        }
        /// Writes the command.
        public func encode(into encoder: inout RESPCommandEncoder) {
            encoder.encode("XGROUP", "DELCONSUMER", self.key, self.group, self.consumer)
        }
    }
}

/// `XAUTOCLAIM key group consumer min-idle start [COUNT n]`: entries taken over from idle consumers.
public struct XAUTOCLAIM: RedisCommand {
    /// The reply of `XAUTOCLAIM`.
    public struct Result: Sendable, Hashable {
        /// Where the next call should start; `0-0` when the scan is complete.
        public var next: StreamID
        /// The entries now owned by the consumer.
        public var entries: [StreamEntry]
        /// Ids that were pending but have been deleted from the stream (removed from the pending list).
        public var deleted: [StreamID]
    }

    /// The command's reply type.
    public typealias Response = Result
    /// The stream's key.
    public var key: String
    /// The group.
    public var group: String
    /// The consumer taking the entries.
    public var consumer: String
    /// Only entries idle at least this long.
    public var minimumIdle: Duration
    /// Where to start scanning the pending list.
    public var start: StreamID
    /// The most entries to claim.
    public var count: Int?

    /// Creates the command.
    public init(_ key: String, group: String, consumer: String, minimumIdle: Duration, start: StreamID = .zero, count: Int? = nil) {
        self.key = key
        self.group = group
        self.consumer = consumer
        self.minimumIdle = minimumIdle
        self.start = start
        self.count = count
    }

    /// Writes the command.
    public func encode(into encoder: inout RESPCommandEncoder) {
        encoder.encode(
            "XAUTOCLAIM",
            self.key,
            self.group,
            self.consumer,
            XREAD.milliseconds(self.minimumIdle),
            self.start,
            self.count.map { ["COUNT", String($0)] }
        )
    }

    /// Reads `[next, entries, deleted]`.
    public func decodeResponse(_ value: RESPValue) throws(RedisError) -> Result {
        guard let e = value.elements, e.count >= 2 else { throw .unexpected(value, expected: "autoclaim reply") }
        return Result(
            next: try StreamID(resp: e[0]),
            entries: try [StreamEntry](resp: e[1]),
            deleted: e.count > 2 ? try [StreamID](resp: e[2]) : []
        )
    }
}

/// `XCLAIM key group consumer min-idle id...`: the entries now owned by the consumer.
public struct XCLAIM: RedisCommand {
    /// The command's reply type.
    public typealias Response = [StreamEntry]
    /// The stream's key.
    public var key: String
    /// The group.
    public var group: String
    /// The consumer taking the entries.
    public var consumer: String
    /// Only entries idle at least this long.
    public var minimumIdle: Duration
    /// The ids to claim.
    public var ids: [StreamID]

    /// Creates the command.
    public init(_ key: String, group: String, consumer: String, minimumIdle: Duration, ids: [StreamID]) {
        self.key = key
        self.group = group
        self.consumer = consumer
        self.minimumIdle = minimumIdle
        self.ids = ids
    }

    /// Writes the command.
    public func encode(into encoder: inout RESPCommandEncoder) {
        encoder.encode("XCLAIM", self.key, self.group, self.consumer, XREAD.milliseconds(self.minimumIdle), self.ids)
    }
}
