import NIOCore
import RESP

/// The id of a stream entry: milliseconds and a sequence number, written `ms-seq`.
public struct StreamID: Sendable, Hashable, Comparable, CustomStringConvertible, RESPDecodable, RESPArgument {
    /// The milliseconds part.
    public var milliseconds: UInt64
    /// The sequence part.
    public var sequence: UInt64

    /// `0-0`, before every entry.
    public static let zero = StreamID(milliseconds: 0, sequence: 0)

    /// Creates an id from its parts.
    public init(milliseconds: UInt64, sequence: UInt64) {
        self.milliseconds = milliseconds
        self.sequence = sequence
    }

    /// Parses `ms-seq` or `ms`; `nil` for anything else.
    public init?(_ text: some StringProtocol) {
        var text = String(text)
        guard let parsed = text.withUTF8({ Self.parse(raw: UnsafeRawBufferPointer($0)) }) else { return nil }
        self.init(milliseconds: parsed.0, sequence: parsed.1)
    }

    /// Reads an id from a string reply.
    public init(resp value: RESPValue) throws(RedisError) {
        guard let bytes = value.bytes, let id = StreamID(bytes: bytes) else { throw .unexpected(value, expected: "stream id") }
        self = id
    }

    /// Parses `ms-seq` or `ms` from bytes without building a string.
    init?(bytes: ByteBuffer) {
        guard let parsed = bytes.withUnsafeReadableBytes({ Self.parse(raw: $0) }) else { return nil }
        self.init(milliseconds: parsed.0, sequence: parsed.1)
    }

    /// The two parts of `ms-seq` (or `ms`, sequence 0), read in one pass; `nil` for anything else.
    /// Overflow is checked only from the 20th digit of a part, as fewer digits cannot overflow:
    /// this runs for the id in every `XADD` reply.
    private static func parse(raw: UnsafeRawBufferPointer) -> (UInt64, UInt64)? {
        var index = 0
        func part() -> UInt64? {
            let start = index
            var value: UInt64 = 0
            while index < raw.count {
                let digit = raw[index] &- UInt8(ascii: "0")
                guard digit <= 9 else { break }
                if index - start < 19 {
                    value = value &* 10 &+ UInt64(digit)
                } else {
                    guard index - start < 20 else { return nil }
                    let (m, o1) = value.multipliedReportingOverflow(by: 10)
                    let (a, o2) = m.addingReportingOverflow(UInt64(digit))
                    guard !o1, !o2 else { return nil }
                    value = a
                }
                index += 1
            }
            return index > start ? value : nil
        }
        guard let milliseconds = part() else { return nil }
        if index == raw.count { return (milliseconds, 0) }
        guard raw[index] == UInt8(ascii: "-") else { return nil }
        index += 1
        guard let sequence = part(), index == raw.count else { return nil }
        return (milliseconds, sequence)
    }

    /// `ms-seq`.
    public var description: String { "\(self.milliseconds)-\(self.sequence)" }

    /// Orders by milliseconds, then sequence.
    public static func < (lhs: StreamID, rhs: StreamID) -> Bool {
        (lhs.milliseconds, lhs.sequence) < (rhs.milliseconds, rhs.sequence)
    }

    /// Writes `ms-seq`.
    public func encode(into encoder: inout RESPCommandEncoder) { encoder.encodeBulk(self.description) }
}

/// One entry of a stream: its id and its fields in order.
public struct StreamEntry: Sendable, Hashable, RESPDecodable {
    /// A field of an entry.
    public struct Field: Sendable, Hashable {
        /// The field's name.
        public var name: String
        /// The field's value.
        public var value: ByteBuffer

        /// Creates a field.
        public init(name: String, value: ByteBuffer) {
            self.name = name
            self.value = value
        }
    }

    /// The entry's id.
    public var id: StreamID
    /// The fields, in the order written; empty for an entry deleted while pending.
    public var fields: [Field]

    /// Creates an entry.
    public init(id: StreamID, fields: [Field]) {
        self.id = id
        self.fields = fields
    }

    /// The value of the first field named `name`.
    public subscript(field name: String) -> ByteBuffer? {
        self.fields.first { $0.name == name }?.value
    }

    /// Reads `[id, [field, value, ...]]`.
    public init(resp value: RESPValue) throws(RedisError) {
        guard let elements = value.elements, elements.count == 2 else { throw .unexpected(value, expected: "stream entry") }
        self.id = try StreamID(resp: elements[0])
        if elements[1].isNull {
            self.fields = []
            return
        }
        guard let flat = elements[1].elements, flat.count % 2 == 0 else { throw .unexpected(value, expected: "stream fields") }
        var fields: [Field] = []
        fields.reserveCapacity(flat.count / 2)
        for index in stride(from: 0, to: flat.count, by: 2) {
            guard let name = flat[index].string, let bytes = flat[index + 1].bytes else {
                throw .unexpected(value, expected: "stream field")
            }
            fields.append(Field(name: name, value: bytes))
        }
        self.fields = fields
    }
}

/// The entries read from one stream by `XREAD` or `XREADGROUP`.
public struct StreamRead: Sendable, Hashable {
    /// The stream's key.
    public var stream: String
    /// The entries, oldest first.
    public var entries: [StreamEntry]

    /// Reads the reply of `XREAD`/`XREADGROUP`: a map (RESP3) or pairs (RESP2); null reads as empty.
    static func list(from value: RESPValue) throws(RedisError) -> [StreamRead] {
        if value.isNull { return [] }
        if case .map(let pairs) = value.withoutAttributes {
            var result: [StreamRead] = []
            for pair in pairs {
                guard let stream = pair.key.string else { throw .unexpected(value, expected: "stream name") }
                result.append(StreamRead(stream: stream, entries: try [StreamEntry](resp: pair.value)))
            }
            return result
        }
        guard let elements = value.elements else { throw .unexpected(value, expected: "stream reads") }
        var result: [StreamRead] = []
        for element in elements {
            guard let pair = element.elements, pair.count == 2, let stream = pair[0].string else {
                throw .unexpected(value, expected: "stream read")
            }
            result.append(StreamRead(stream: stream, entries: try [StreamEntry](resp: pair[1])))
        }
        return result
    }
}

/// How `XADD` and `XTRIM` trim a stream.
public struct StreamTrim: Sendable, Hashable {
    enum Strategy: Hashable {
        case maxLength(Int)
        case minimumID(StreamID)
    }

    let strategy: Strategy
    let approximate: Bool

    /// Keep at most `count` entries (`MAXLEN`); `approximate` (`~`) lets the server trim whole nodes only.
    public static func maxLength(_ count: Int, approximate: Bool = false) -> StreamTrim {
        StreamTrim(strategy: .maxLength(count), approximate: approximate)
    }

    /// Drop entries older than `id` (`MINID`); `approximate` (`~`) lets the server trim whole nodes only.
    public static func minimumID(_ id: StreamID, approximate: Bool = false) -> StreamTrim {
        StreamTrim(strategy: .minimumID(id), approximate: approximate)
    }

    var argumentCount: Int { 3 }

    func encode(into encoder: inout RESPCommandEncoder) {
        switch self.strategy {
        case .maxLength(let count):
            encoder.encodeBulk("MAXLEN")
            encoder.encodeBulk(self.approximate ? "~" : "=")
            encoder.encodeBulk(count)
        case .minimumID(let id):
            encoder.encodeBulk("MINID")
            encoder.encodeBulk(self.approximate ? "~" : "=")
            encoder.encodeBulk(id.description)
        }
    }
}

extension RESPValue {
    /// The value of the map entry (or RESP2 flat pair) named `key`.
    func field(_ key: String) -> RESPValue? {
        self.pairs?.first { $0.key.string == key }?.value
    }
}
