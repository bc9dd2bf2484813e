import NIOCore
import RESP

/// `XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] n] id|* field value...`: the new entry's id.
public struct XADD: RedisCommand {
    /// The command's reply type.
    public typealias Response = StreamID
    /// The stream's key.
    public var key: String
    /// The entry's id, or `nil` for `*` (the server picks it).
    public var id: StreamID?
    /// The fields, in order.
    public var fields: [StreamEntry.Field]
    /// How to trim the stream in the same step.
    public var trim: StreamTrim?

    /// Creates the command.
    public init(_ key: String, id: StreamID? = nil, fields: [StreamEntry.Field], trim: StreamTrim? = nil) {
        self.key = key
        self.id = id
        self.fields = fields
        self.trim = trim
    }

    /// Creates the command from name and value pairs.
    public init(_ key: String, id: StreamID? = nil, fields: KeyValuePairs<String, ByteBuffer>, trim: StreamTrim? = nil) {
        self.init(key, id: id, fields: fields.map { StreamEntry.Field(name: $0.key, value: $0.value) }, trim: trim)
    }

    /// Writes the command.
    public func encode(into encoder: inout RESPCommandEncoder) {
        if self.trim == nil, self.id == nil, let argumentBytes = self.smallArgumentBytes {
            // The common form, `XADD key * field value ...` with small values: one capacity check.
            encoder.encodeCommand(argumentCount: 3 + 2 * self.fields.count, argumentBytes: argumentBytes) { writer in
                writer.writeBulk("XADD")
                writer.writeBulk(self.key)
                writer.writeBulk("*")
                for field in self.fields {
                    writer.writeBulk(field.name)
                    writer.writeBulk(field.value)
                }
            }
            return
        }
        encoder.encodeArrayHeader(count: 3 + (self.trim?.argumentCount ?? 0) + 2 * self.fields.count)
        encoder.encodeBulk("XADD")
        encoder.encodeBulk(self.key)
        self.trim?.encode(into: &encoder)
        encoder.encodeBulk(self.id?.description ?? "*")
        for field in self.fields {
            encoder.encodeBulk(field.name)
            encoder.encodeBulk(field.value)
        }
    }
}

extension XADD {
    /// The bytes of `XADD key * field value ...`, or `nil` when a value is large enough to be
    /// written by reference.
    private var smallArgumentBytes: Int? {
        var bytes = RESPCommandEncoder.bulkSize(4) + RESPCommandEncoder.bulkSize(self.key.utf8.count) + RESPCommandEncoder.bulkSize(1)
        for field in self.fields {
            guard field.value.readableBytes < RESPCommandEncoder.zeroCopyThreshold else { return nil }
            bytes += RESPCommandEncoder.bulkSize(field.name.utf8.count) + RESPCommandEncoder.bulkSize(field.value.readableBytes)
        }
        return bytes
    }
}

/// `XTRIM key MAXLEN|MINID [=|~] n`: the number of entries removed.
public struct XTRIM: RedisCommand {
    /// The command's reply type.
    public typealias Response = Int
    /// The stream's key.
    public var key: String
    /// How to trim.
    public var trim: StreamTrim
    /// Creates the command.
    public init(_ key: String, _ trim: StreamTrim) {
        self.key = key
        self.trim = trim
    }
    /// Writes the command.
    public func encode(into encoder: inout RESPCommandEncoder) {
        encoder.encodeArrayHeader(count: 2 + self.trim.argumentCount)
        encoder.encodeBulk("XTRIM")
        encoder.encodeBulk(self.key)
        self.trim.encode(into: &encoder)
    }
}

/// `XLEN key`: the number of entries.
public struct XLEN: RedisCommand {
    /// The command's reply type.
    public typealias Response = Int
    /// The stream's key.
    public var key: String
    /// Creates the command.
    public init(_ key: String) { self.key = key }
    /// Writes `XLEN key`.
    public func encode(into encoder: inout RESPCommandEncoder) { encoder.encode("XLEN", self.key) }
}

/// `XRANGE key start end [COUNT n]`: entries from `start` to `end`, oldest first.
public struct XRANGE: RedisCommand {
    /// The command's reply type.
    public typealias Response = [StreamEntry]
    /// The stream's key.
    public var key: String
    /// The first id (`-` for the oldest, `(id` for exclusive).
    public var start: String
    /// The last id (`+` for the newest).
    public var end: String
    /// The most entries to return.
    public var count: Int?
    /// Creates the command.
    public init(_ key: String, start: String = "-", end: String = "+", count: Int? = nil) {
        self.key = key
        self.start = start
        self.end = end
        self.count = count
    }
    /// Writes the command.
    public func encode(into encoder: inout RESPCommandEncoder) {
        encoder.encode("XRANGE", self.key, self.start, self.end, self.count.map { ["COUNT", String($0)] })
    }
}

/// `XREVRANGE key end start [COUNT n]`: entries from `end` down to `start`, newest first.
public struct XREVRANGE: RedisCommand {
    /// The command's reply type.
    public typealias Response = [StreamEntry]
    /// The stream's key.
    public var key: String
    /// The last id (`+` for the newest).
    public var end: String
    /// The first id (`-` for the oldest).
    public var start: String
    /// The most entries to return.
    public var count: Int?
    /// Creates the command.
    public init(_ key: String, end: String = "+", start: String = "-", count: Int? = nil) {
        self.key = key
        self.end = end
        self.start = start
        self.count = count
    }
    /// Writes the command.
    public func encode(into encoder: inout RESPCommandEncoder) {
        encoder.encode("XREVRANGE", self.key, self.end, self.start, self.count.map { ["COUNT", String($0)] })
    }
}

/// `XREAD [COUNT n] [BLOCK ms] STREAMS key... id...`: new entries per stream; empty after a block times out.
public struct XREAD: RedisCommand {
    /// The command's reply type.
    public typealias Response = [StreamRead]
    /// The streams and, for each, the id after which to read (`$` for only new entries).
    public var streams: [(key: String, after: String)]
    /// The most entries per stream.
    public var count: Int?
    /// How long to block waiting for entries; `nil` does not block, `.zero` blocks forever.
    public var block: Duration?

    /// Creates the command.
    public init(streams: [(key: String, after: String)], count: Int? = nil, block: Duration? = nil) {
        self.streams = streams
        self.count = count
        self.block = block
    }

    /// The block time, so the command timeout waits that much longer.
    public var blockingTimeout: Duration? { self.block }

    /// Writes the command.
    public func encode(into encoder: inout RESPCommandEncoder) {
        encoder.encode(
            "XREAD",
            self.count.map { ["COUNT", String($0)] },
            self.block.map { ["BLOCK", String(Self.milliseconds($0))] },
            "STREAMS",
            self.streams.map(\.key),
            self.streams.map(\.after)
        )
    }

    /// Reads the per-stream entries.
    public func decodeResponse(_ value: RESPValue) throws(RedisError) -> [StreamRead] {
        try StreamRead.list(from: value)
    }

    static func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds) * 1000 + Int(duration.components.attoseconds / 1_000_000_000_000_000)
    }
}

/// `XREADGROUP GROUP group consumer [COUNT n] [BLOCK ms] [NOACK] STREAMS key... id...`.
public struct XREADGROUP: RedisCommand {
    /// The command's reply type.
    public typealias Response = [StreamRead]
    /// The group.
    public var group: String
    /// The consumer within the group.
    public var consumer: String
    /// The streams and, for each, `>` for new entries or an id to re-read this consumer's pending ones.
    public var streams: [(key: String, after: String)]
    /// The most entries per stream.
    public var count: Int?
    /// How long to block waiting for entries; `nil` does not block, `.zero` blocks forever.
    public var block: Duration?
    /// Whether to skip the pending list (`NOACK`).
    public var noAck: Bool

    /// Creates the command.
    public init(
        group: String,
        consumer: String,
        streams: [(key: String, after: String)],
        count: Int? = nil,
        block: Duration? = nil,
        noAck: Bool = false
    ) {
        self.group = group
        self.consumer = consumer
        self.streams = streams
        self.count = count
        self.block = block
        self.noAck = noAck
    }

    /// The block time, so the command timeout waits that much longer.
    public var blockingTimeout: Duration? { self.block }

    /// Writes the command.
    public func encode(into encoder: inout RESPCommandEncoder) {
        encoder.encode(
            "XREADGROUP",
            "GROUP",
            self.group,
            self.consumer,
            self.count.map { ["COUNT", String($0)] },
            self.block.map { ["BLOCK", String(XREAD.milliseconds($0))] },
            self.noAck ? "NOACK" : nil,
            "STREAMS",
            self.streams.map(\.key),
            self.streams.map(\.after)
        )
    }

    /// Reads the per-stream entries.
    public func decodeResponse(_ value: RESPValue) throws(RedisError) -> [StreamRead] {
        try StreamRead.list(from: value)
    }
}

/// `XACK key group id...`: the number of entries acknowledged.
public struct XACK: RedisCommand {
    /// The command's reply type.
    public typealias Response = Int
    /// The stream's key.
    public var key: String
    /// The group.
    public var group: String
    /// The ids to acknowledge.
    public var ids: [StreamID]
    /// Creates the command.
    public init(_ key: String, group: String, ids: [StreamID]) {
        self.key = key
        self.group = group
        self.ids = ids
    }
    /// Writes the command.
    public func encode(into encoder: inout RESPCommandEncoder) { encoder.encode("XACK", self.key, self.group, self.ids) }
}
