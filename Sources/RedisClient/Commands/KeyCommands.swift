import NIOCore
import RESP

/// `GET key`: the value, or `nil` when the key does not exist.
public struct GET: RedisCommand {
    /// The command's reply type.
    public typealias Response = ByteBuffer?
    /// The key.
    public var key: String
    /// Creates the command.
    public init(_ key: String) { self.key = key }
    /// Writes `GET key`.
    public func encode(into encoder: inout RESPCommandEncoder) { encoder.encode("GET", self.key) }
}

/// `SET key value [NX|XX] [EX s|PX ms]`: `true` when the value was set, `false` when the condition prevented it.
public struct SET: RedisCommand {
    /// The command's reply type.
    public typealias Response = Bool

    /// When to set.
    public enum Condition: Sendable {
        /// Only when the key does not exist (`NX`).
        case ifNotExists
        /// Only when the key exists (`XX`).
        case ifExists
    }

    /// When the key expires.
    public enum Expiration: Sendable {
        /// After this many seconds (`EX`).
        case seconds(Int)
        /// After this many milliseconds (`PX`).
        case milliseconds(Int)
    }

    /// The key.
    public var key: String
    /// The value.
    public var value: ByteBuffer
    /// The condition, or `nil` to always set.
    public var condition: Condition?
    /// The expiration, or `nil` to keep none.
    public var expiration: Expiration?

    /// Creates the command with a bytes value.
    public init(_ key: String, value: ByteBuffer, condition: Condition? = nil, expiration: Expiration? = nil) {
        self.key = key
        self.value = value
        self.condition = condition
        self.expiration = expiration
    }

    /// Creates the command with a string value.
    public init(_ key: String, value: String, condition: Condition? = nil, expiration: Expiration? = nil) {
        self.init(key, value: ByteBuffer(string: value), condition: condition, expiration: expiration)
    }

    /// Writes the command.
    public func encode(into encoder: inout RESPCommandEncoder) {
        encoder.encodeArrayHeader(count: 3 + (self.condition == nil ? 0 : 1) + (self.expiration == nil ? 0 : 2))
        encoder.encodeBulk("SET")
        encoder.encodeBulk(self.key)
        encoder.encodeBulk(self.value)
        switch self.condition {
        case .ifNotExists: encoder.encodeBulk("NX")
        case .ifExists: encoder.encodeBulk("XX")
        case nil: break
        }
        switch self.expiration {
        case .seconds(let seconds):
            encoder.encodeBulk("EX")
            encoder.encodeBulk(seconds)
        case .milliseconds(let milliseconds):
            encoder.encodeBulk("PX")
            encoder.encodeBulk(milliseconds)
        case nil: break
        }
    }

    /// `OK` is `true`, null is `false`.
    public func decodeResponse(_ value: RESPValue) throws(RedisError) -> Bool {
        !value.isNull
    }
}

/// `DEL key...`: the number of keys removed.
public struct DEL: RedisCommand {
    /// The command's reply type.
    public typealias Response = Int
    /// The keys.
    public var keys: [String]
    /// Creates the command.
    public init(_ keys: String...) { self.keys = keys }
    /// Creates the command.
    public init(keys: [String]) { self.keys = keys }
    /// Writes `DEL key...`.
    public func encode(into encoder: inout RESPCommandEncoder) { encoder.encode("DEL", self.keys) }
}

/// `EXPIRE key seconds`: `true` when the timeout was set.
public struct EXPIRE: RedisCommand {
    /// The command's reply type.
    public typealias Response = Bool
    /// The key.
    public var key: String
    /// The timeout in seconds.
    public var seconds: Int
    /// Creates the command.
    public init(_ key: String, seconds: Int) {
        self.key = key
        self.seconds = seconds
    }
    /// Writes `EXPIRE key seconds`.
    public func encode(into encoder: inout RESPCommandEncoder) { encoder.encode("EXPIRE", self.key, self.seconds) }
}

/// `TTL key`: seconds left, -1 without expiry, -2 when the key does not exist.
public struct TTL: RedisCommand {
    /// The command's reply type.
    public typealias Response = Int
    /// The key.
    public var key: String
    /// Creates the command.
    public init(_ key: String) { self.key = key }
    /// Writes `TTL key`.
    public func encode(into encoder: inout RESPCommandEncoder) { encoder.encode("TTL", self.key) }
}

/// `INCR key`: the value after the increment.
public struct INCR: RedisCommand {
    /// The command's reply type.
    public typealias Response = Int
    /// The key.
    public var key: String
    /// Creates the command.
    public init(_ key: String) { self.key = key }
    /// Writes `INCR key`.
    public func encode(into encoder: inout RESPCommandEncoder) { encoder.encode("INCR", self.key) }
}

/// `SADD key member...`: the number of members that were not in the set yet.
public struct SADD: RedisCommand {
    /// The command's reply type.
    public typealias Response = Int
    /// The set.
    public var key: String
    /// The members to add.
    public var members: [String]
    /// Creates the command.
    public init(_ key: String, members: [String]) {
        self.key = key
        self.members = members
    }
    /// Writes `SADD key member...`.
    public func encode(into encoder: inout RESPCommandEncoder) { encoder.encode("SADD", self.key, self.members) }
}

/// `SSCAN key cursor [MATCH pattern] [COUNT n]`: one page of a set's members.
public struct SSCAN: RedisCommand {
    /// The command's reply type: the next cursor and this page's members (in ``SCAN/Page/keys``).
    public typealias Response = SCAN.Page
    /// The set.
    public var key: String
    /// The cursor; `"0"` to start.
    public var cursor: String
    /// A glob pattern the members must match.
    public var pattern: String?
    /// A hint of how many members to look at.
    public var count: Int?

    /// Creates the command.
    public init(_ key: String, cursor: String = "0", pattern: String? = nil, count: Int? = nil) {
        self.key = key
        self.cursor = cursor
        self.pattern = pattern
        self.count = count
    }

    /// Writes the command.
    public func encode(into encoder: inout RESPCommandEncoder) {
        encoder.encode("SSCAN", self.key, self.cursor, self.pattern.map { ["MATCH", $0] }, self.count.map { ["COUNT", String($0)] })
    }

    /// Reads `[cursor, [members]]`.
    public func decodeResponse(_ value: RESPValue) throws(RedisError) -> SCAN.Page {
        try SCAN().decodeResponse(value)
    }
}
