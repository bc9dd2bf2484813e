import NIOCore
import RESP

/// A Redis command as a typed value: it writes its arguments and turns the reply into `Response`.
///
/// Run one with ``RedisClient/execute(_:)`` or ``RedisConnection/execute(_:)``.
public protocol RedisCommand: Sendable {
    /// The type of the command's reply.
    associatedtype Response: Sendable

    /// Writes the command's arguments.
    func encode(into encoder: inout RESPCommandEncoder)

    /// Turns a reply (never an error reply) into the response.
    /// - Throws: ``RedisError`` with ``RedisError/Code/unexpectedResponse`` for a reply of another shape.
    func decodeResponse(_ value: RESPValue) throws(RedisError) -> Response

    /// How long the server may block before replying (`BLOCK`), added to the command timeout; `nil` by default.
    var blockingTimeout: Duration? { get }

    /// The key that picks the node of a Redis Cluster that runs the command: its first key; `nil`
    /// for a command without keys, which any node may run. Every key of one command must share a
    /// hash slot on a cluster (a hash tag such as `{orders}` makes sure of it).
    var routingKey: String? { get }

    /// Whether the command only reads, so that a cluster replica may serve it when
    /// ``RedisConfiguration/Cluster/readsFromReplicas`` is on; `false` unless the command says otherwise.
    var isReadOnly: Bool { get }
}

extension RedisCommand {
    /// Not a blocking command.
    public var blockingTimeout: Duration? { nil }

    /// No key, unless the command says otherwise.
    public var routingKey: String? { nil }

    /// Not read-only, unless the command says otherwise.
    public var isReadOnly: Bool { false }

    func typedCheckedResponse(_ value: RESPValue) throws(RedisError) -> Response {
        if value.isError, let message = value.errorMessage {
            throw RedisError(.serverError, serverMessage: message)
        }
        return try self.decodeResponse(value)
    }

    func checkedResponse(_ value: RESPValue) throws -> Response {
        try self.typedCheckedResponse(value)
    }
}

extension RedisCommand where Response: RESPDecodable {
    /// Decodes the reply with `Response`'s ``RESPDecodable`` conformance.
    public func decodeResponse(_ value: RESPValue) throws(RedisError) -> Response {
        try Response(resp: value)
    }
}

/// A type that can be read from a reply.
public protocol RESPDecodable: Sendable {
    /// Reads the value.
    /// - Throws: ``RedisError`` with ``RedisError/Code/unexpectedResponse`` for a reply of another shape.
    init(resp value: RESPValue) throws(RedisError)
}

extension RESPValue: RESPDecodable {
    /// The reply itself.
    public init(resp value: RESPValue) { self = value }
}

extension String: RESPDecodable {
    /// A string reply, or a number's decimal form.
    public init(resp value: RESPValue) throws(RedisError) {
        guard let string = value.string else { throw .unexpected(value, expected: "string") }
        self = string
    }
}

extension Int: RESPDecodable {
    /// An integer reply, or a string that holds one.
    public init(resp value: RESPValue) throws(RedisError) {
        guard let int = value.int else { throw .unexpected(value, expected: "integer") }
        self = int
    }
}

extension Double: RESPDecodable {
    /// A double, integer or numeric string reply.
    public init(resp value: RESPValue) throws(RedisError) {
        guard let double = value.double else { throw .unexpected(value, expected: "double") }
        self = double
    }
}

extension Bool: RESPDecodable {
    /// A boolean, or an integer (non-zero is true), or `OK`.
    public init(resp value: RESPValue) throws(RedisError) {
        switch value.withoutAttributes {
        case .boolean(let bool): self = bool
        case .integer(let int): self = int != 0
        case .simpleString: self = true
        default: throw .unexpected(value, expected: "boolean")
        }
    }
}

extension ByteBuffer: RESPDecodable {
    /// A string reply's bytes.
    public init(resp value: RESPValue) throws(RedisError) {
        guard let bytes = value.bytes else { throw .unexpected(value, expected: "string") }
        self = bytes
    }
}

extension Optional: RESPDecodable where Wrapped: RESPDecodable {
    /// `nil` for a null reply, else the wrapped type's reading.
    public init(resp value: RESPValue) throws(RedisError) {
        if value.isNull {
            self = nil
        } else {
            self = try Wrapped(resp: value)
        }
    }
}

extension Array: RESPDecodable where Element: RESPDecodable {
    /// An array or set reply, each element read as `Element`; a null reads as empty.
    public init(resp value: RESPValue) throws(RedisError) {
        if value.isNull {
            self = []
            return
        }
        guard let elements = value.elements else { throw .unexpected(value, expected: "array") }
        var result: [Element] = []
        result.reserveCapacity(elements.count)
        for element in elements { result.append(try Element(resp: element)) }
        self = result
    }
}
