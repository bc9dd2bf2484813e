import NIOCore

// The first key of each typed command, which routes it on a Redis Cluster, and whether it only reads.

extension GET {
    public var isReadOnly: Bool { true }
    public var routingKey: String? { self.key }
}
extension SET { public var routingKey: String? { self.key } }
extension DEL { public var routingKey: String? { self.keys.first } }
extension EXPIRE { public var routingKey: String? { self.key } }
extension TTL {
    public var isReadOnly: Bool { true }
    public var routingKey: String? { self.key }
}
extension INCR { public var routingKey: String? { self.key } }
extension SADD { public var routingKey: String? { self.key } }
extension SSCAN {
    public var isReadOnly: Bool { true }
    public var routingKey: String? { self.key }
}
extension XADD { public var routingKey: String? { self.key } }
extension XTRIM { public var routingKey: String? { self.key } }
extension XLEN {
    public var isReadOnly: Bool { true }
    public var routingKey: String? { self.key }
}
extension XRANGE {
    public var isReadOnly: Bool { true }
    public var routingKey: String? { self.key }
}
extension XREVRANGE {
    public var isReadOnly: Bool { true }
    public var routingKey: String? { self.key }
}
extension XREAD {
    public var isReadOnly: Bool { true }
    public var routingKey: String? { self.streams.first?.key }
}
extension XREADGROUP { public var routingKey: String? { self.streams.first?.key } }
extension XACK { public var routingKey: String? { self.key } }
extension XGROUP.CREATE { public var routingKey: String? { self.key } }
extension XGROUP.SETID { public var routingKey: String? { self.key } }
extension XGROUP.DESTROY { public var routingKey: String? { self.key } }
extension XGROUP.DELCONSUMER { public var routingKey: String? { self.key } }
extension XAUTOCLAIM { public var routingKey: String? { self.key } }
extension XCLAIM { public var routingKey: String? { self.key } }
extension XPENDING {
    public var isReadOnly: Bool { true }
    public var routingKey: String? { self.key }
}
extension XPENDING.Extended {
    public var isReadOnly: Bool { true }
    public var routingKey: String? { self.key }
}
extension XINFO.STREAM {
    public var isReadOnly: Bool { true }
    public var routingKey: String? { self.key }
}
extension XINFO.GROUPS {
    public var isReadOnly: Bool { true }
    public var routingKey: String? { self.key }
}
extension XINFO.CONSUMERS {
    public var isReadOnly: Bool { true }
    public var routingKey: String? { self.key }
}
extension EVALSHA { public var routingKey: String? { self.keys.first } }
extension SPUBLISH { public var routingKey: String? { self.channel } }

extension GenericCommand {
    /// Commands that only read, which a cluster replica may serve.
    static let readOnlyCommands: Set<String> = [
        "GET", "MGET", "EXISTS", "TTL", "PTTL", "STRLEN", "TYPE", "HGET", "HMGET", "HGETALL", "HEXISTS", "HLEN", "SMEMBERS",
        "SISMEMBER", "SCARD", "SSCAN", "ZRANGE", "ZSCORE", "ZCARD", "XRANGE", "XREVRANGE", "XLEN", "XREAD", "XINFO", "XPENDING",
        "EVAL_RO", "EVALSHA_RO", "FCALL_RO", "LRANGE", "LLEN",
    ]

    /// Whether the command's name is one of ``readOnlyCommands``.
    public var isReadOnly: Bool {
        self.arguments.first.map { Self.readOnlyCommands.contains(String(buffer: $0).uppercased()) } ?? false
    }

    /// The first key, found from the command's name: the argument after `STREAMS` for `XREAD` and
    /// `XREADGROUP`, the first of `numkeys` keys for scripts and functions, the argument after the
    /// subcommand for `XINFO`, `XGROUP`, `OBJECT` and `MEMORY`, none for server, connection and
    /// Pub/Sub commands (but `SPUBLISH`'s shard channel), else the first argument.
    public var routingKey: String? {
        guard let name = self.arguments.first.map({ String(buffer: $0).uppercased() }) else { return nil }
        func argument(_ index: Int) -> String? { index < self.arguments.count ? String(buffer: self.arguments[index]) : nil }
        switch name {
        case "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO":
            guard let count = argument(2).flatMap({ Int($0) }), count > 0 else { return nil }
            return argument(3)
        case "XREAD", "XREADGROUP":
            guard let streams = self.arguments.firstIndex(where: { String(buffer: $0).uppercased() == "STREAMS" }) else { return nil }
            return argument(streams + 1)
        case "XINFO", "XGROUP", "OBJECT", "MEMORY":
            return argument(2)
        case "PING", "ECHO", "INFO", "CLUSTER", "SCRIPT", "FUNCTION", "WAIT", "PUBLISH", "SUBSCRIBE", "PSUBSCRIBE",
            "UNSUBSCRIBE", "PUNSUBSCRIBE", "PUBSUB", "CLIENT", "CONFIG", "ROLE", "SENTINEL", "HELLO", "AUTH", "SELECT",
            "COMMAND", "DBSIZE", "FLUSHALL", "FLUSHDB", "ACL", "SCAN", "KEYS", "TIME", "LASTSAVE", "DEBUG", "SLOWLOG",
            "LATENCY", "MONITOR", "SHUTDOWN", "SAVE", "BGSAVE", "BGREWRITEAOF", "SWAPDB", "READONLY", "READWRITE",
            "ASKING", "MULTI", "EXEC", "DISCARD", "UNWATCH", "RESET", "QUIT", "FAILOVER", "REPLICAOF", "SLAVEOF", "LOLWUT":
            return nil
        default:
            return argument(1)
        }
    }
}
