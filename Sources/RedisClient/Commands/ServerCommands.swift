import NIOCore
import RESP

/// `PING [message]`: `PONG`, or the message.
public struct PING: RedisCommand {
    /// The command's reply type.
    public typealias Response = String
    /// The message to echo, or `nil`.
    public var message: String?
    /// Creates the command.
    public init(_ message: String? = nil) { self.message = message }
    /// Writes `PING [message]`.
    public func encode(into encoder: inout RESPCommandEncoder) { encoder.encode("PING", self.message) }
    /// `PONG`, the message, or (on a RESP2 subscriber connection) the array's first element.
    public func decodeResponse(_ value: RESPValue) throws(RedisError) -> String {
        if let string = value.string { return string }
        if let first = value.elements?.first?.string { return first }
        throw .unexpected(value, expected: "PONG")
    }
}

/// `INFO [section]`: the server's report as text.
public struct INFO: RedisCommand {
    /// The command's reply type.
    public typealias Response = String
    /// The section, or `nil` for the default ones.
    public var section: String?
    /// Creates the command.
    public init(_ section: String? = nil) { self.section = section }
    /// Writes `INFO [section]`.
    public func encode(into encoder: inout RESPCommandEncoder) { encoder.encode("INFO", self.section) }
}

/// `CLIENT ...` commands.
public enum CLIENT {
    /// `CLIENT ID`: the connection's id on the server.
    public struct ID: RedisCommand {
        /// The command's reply type.
        public typealias Response = Int
        /// Creates the command.
        public init() {}
        /// Writes `CLIENT ID`.
        public func encode(into encoder: inout RESPCommandEncoder) { encoder.encode("CLIENT", "ID") }
    }
}

/// `SCAN cursor [MATCH pattern] [COUNT n] [TYPE type]`: one page of keys and the next cursor.
public struct SCAN: RedisCommand {
    /// One page of a scan.
    public struct Page: Sendable, Hashable {
        /// The cursor for the next call; `"0"` when the scan is complete.
        public var cursor: String
        /// The keys of this page.
        public var keys: [String]
    }

    /// The command's reply type.
    public typealias Response = Page
    /// The cursor; `"0"` to start.
    public var cursor: String
    /// A glob pattern the keys must match.
    public var pattern: String?
    /// A hint of how many keys to look at.
    public var count: Int?
    /// The key type (`string`, `stream`, ...).
    public var type: String?

    /// Creates the command.
    public init(cursor: String = "0", pattern: String? = nil, count: Int? = nil, type: String? = nil) {
        self.cursor = cursor
        self.pattern = pattern
        self.count = count
        self.type = type
    }

    /// Writes the command.
    public func encode(into encoder: inout RESPCommandEncoder) {
        encoder.encode(
            "SCAN",
            self.cursor,
            self.pattern.map { ["MATCH", $0] },
            self.count.map { ["COUNT", String($0)] },
            self.type.map { ["TYPE", $0] }
        )
    }

    /// Reads `[cursor, [keys]]`.
    public func decodeResponse(_ value: RESPValue) throws(RedisError) -> Page {
        guard let elements = value.elements, elements.count == 2, let cursor = elements[0].string else {
            throw .unexpected(value, expected: "[cursor, keys]")
        }
        return Page(cursor: cursor, keys: try [String](resp: elements[1]))
    }
}

/// `PUBLISH channel message`: the number of subscribers that received it.
public struct PUBLISH: RedisCommand {
    /// The command's reply type.
    public typealias Response = Int
    /// The channel.
    public var channel: String
    /// The message.
    public var message: ByteBuffer
    /// Creates the command.
    public init(_ channel: String, message: ByteBuffer) {
        self.channel = channel
        self.message = message
    }
    /// Creates the command with a string message.
    public init(_ channel: String, message: String) { self.init(channel, message: ByteBuffer(string: message)) }
    /// Writes `PUBLISH channel message`.
    public func encode(into encoder: inout RESPCommandEncoder) { encoder.encode("PUBLISH", self.channel, self.message) }
}

/// `SPUBLISH shardchannel message`: the number of shard subscribers that received it.
public struct SPUBLISH: RedisCommand {
    /// The command's reply type.
    public typealias Response = Int
    /// The shard channel.
    public var channel: String
    /// The message.
    public var message: ByteBuffer
    /// Creates the command.
    public init(_ channel: String, message: ByteBuffer) {
        self.channel = channel
        self.message = message
    }
    /// Creates the command with a string message.
    public init(_ channel: String, message: String) { self.init(channel, message: ByteBuffer(string: message)) }
    /// Writes `SPUBLISH channel message`.
    public func encode(into encoder: inout RESPCommandEncoder) { encoder.encode("SPUBLISH", self.channel, self.message) }
}

/// `WAIT numreplicas timeout`: blocks until the replicas have every write this connection made
/// before, or the timeout passes; the number of replicas that have them.
public struct WAIT: RedisCommand {
    /// The command's reply type: the replicas that have the writes.
    public typealias Response = Int
    /// The replicas to wait for.
    public var replicas: Int
    /// The longest wait; whole milliseconds, at least one (0 would wait forever).
    public var timeout: Duration

    /// Creates the command.
    public init(replicas: Int, timeout: Duration) {
        self.replicas = replicas
        self.timeout = timeout
    }

    /// The command blocks for up to ``timeout``.
    public var blockingTimeout: Duration? { self.timeout }

    /// Writes `WAIT replicas milliseconds`.
    public func encode(into encoder: inout RESPCommandEncoder) {
        encoder.encode("WAIT", self.replicas, max(1, Int(self.timeout / .milliseconds(1))))
    }

    /// The number of replicas.
    public func decodeResponse(_ value: RESPValue) throws(RedisError) -> Int {
        guard let count = value.int else { throw .unexpected(value, expected: "an integer") }
        return count
    }
}

/// Any command, for what has no typed value here: its arguments as written, its reply as a ``RESPValue``.
public struct GenericCommand: RedisCommand {
    /// The command's reply type.
    public typealias Response = RESPValue
    /// The command name and arguments.
    public var arguments: [ByteBuffer]
    /// How long the command may block, if it does.
    public var blockingTimeout: Duration?

    /// Creates the command from strings, such as `GenericCommand("CONFIG", "GET", "maxmemory")`.
    public init(_ arguments: String..., blockingTimeout: Duration? = nil) {
        self.arguments = arguments.map { ByteBuffer(string: $0) }
        self.blockingTimeout = blockingTimeout
    }

    /// Creates the command from bytes.
    public init(arguments: [ByteBuffer], blockingTimeout: Duration? = nil) {
        self.arguments = arguments
        self.blockingTimeout = blockingTimeout
    }

    /// Writes the arguments.
    public func encode(into encoder: inout RESPCommandEncoder) { encoder.encode(self.arguments) }
}
