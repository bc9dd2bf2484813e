import NIOCore
import RESP

/// `XINFO ...` commands.
public enum XINFO {
    /// What `XINFO STREAM` reports.
    public struct StreamInfo: Sendable, Hashable {
        /// The number of entries.
        public var length: Int
        /// The number of consumer groups.
        public var groups: Int
        /// The id of the last entry added.
        public var lastGeneratedID: StreamID
        /// The oldest entry, if any.
        public var firstEntry: StreamEntry?
        /// The newest entry, if any.
        public var lastEntry: StreamEntry?
    }

    /// What `XINFO GROUPS` reports for one group.
    public struct GroupInfo: Sendable, Hashable, RESPDecodable {
        /// The group's name.
        public var name: String
        /// The number of consumers.
        public var consumers: Int
        /// The number of entries delivered and not yet acknowledged.
        public var pending: Int
        /// The last id delivered to the group.
        public var lastDeliveredID: StreamID
        /// How many entries the group has not yet been delivered, when the server knows (Redis 7).
        public var lag: Int?

        /// Reads the group's map.
        public init(resp value: RESPValue) throws(RedisError) {
            guard let name = value.field("name")?.string, let consumers = value.field("consumers")?.int,
                let pending = value.field("pending")?.int, let last = value.field("last-delivered-id")
            else { throw .unexpected(value, expected: "group info") }
            self.name = name
            self.consumers = consumers
            self.pending = pending
            self.lastDeliveredID = try StreamID(resp: last)
            self.lag = value.field("lag")?.int
        }
    }

    /// What `XINFO CONSUMERS` reports for one consumer.
    public struct ConsumerInfo: Sendable, Hashable, RESPDecodable {
        /// The consumer's name.
        public var name: String
        /// The number of entries delivered to it and not yet acknowledged.
        public var pending: Int
        /// Time since it last read or claimed.
        public var idle: Duration

        /// Reads the consumer's map.
        public init(resp value: RESPValue) throws(RedisError) {
            guard let name = value.field("name")?.string, let pending = value.field("pending")?.int,
                let idle = value.field("idle")?.int
            else { throw .unexpected(value, expected: "consumer info") }
            self.name = name
            self.pending = pending
            self.idle = .milliseconds(idle)
        }
    }

    /// `XINFO STREAM key`.
    public struct STREAM: RedisCommand {
        /// The command's reply type.
        public typealias Response = StreamInfo
        /// The stream's key.
        public var key: String
        /// Creates the command.
        public init(_ key: String) { self.key = key }
        /// Writes `XINFO STREAM key`.
        public func encode(into encoder: inout RESPCommandEncoder) { encoder.encode("XINFO", "STREAM", self.key) }
        /// Reads the stream's map.
        public func decodeResponse(_ value: RESPValue) throws(RedisError) -> StreamInfo {
            guard let length = value.field("length")?.int, let groups = value.field("groups")?.int,
                let last = value.field("last-generated-id")
            else { throw .unexpected(value, expected: "stream info") }
            let first = value.field("first-entry")
            let lastEntry = value.field("last-entry")
            return StreamInfo(
                length: length,
                groups: groups,
                lastGeneratedID: try StreamID(resp: last),
                firstEntry: try first.flatMap { value throws(RedisError) in value.isNull ? nil : try StreamEntry(resp: value) },
                lastEntry: try lastEntry.flatMap { value throws(RedisError) in value.isNull ? nil : try StreamEntry(resp: value) }
            )
        }
    }

    /// `XINFO GROUPS key`.
    public struct GROUPS: RedisCommand {
        /// The command's reply type.
        public typealias Response = [GroupInfo]
        /// The stream's key.
        public var key: String
        /// Creates the command.
        public init(_ key: String) { self.key = key }
        /// Writes `XINFO GROUPS key`.
        public func encode(into encoder: inout RESPCommandEncoder) { encoder.encode("XINFO", "GROUPS", self.key) }
    }

    /// `XINFO CONSUMERS key group`.
    public struct CONSUMERS: RedisCommand {
        /// The command's reply type.
        public typealias Response = [ConsumerInfo]
        /// The stream's key.
        public var key: String
        /// The group.
        public var group: String
        /// Creates the command.
        public init(_ key: String, group: String) {
            self.key = key
            self.group = group
        }
        /// Writes `XINFO CONSUMERS key group`.
        public func encode(into encoder: inout RESPCommandEncoder) { encoder.encode("XINFO", "CONSUMERS", self.key, self.group) }
    }
}
