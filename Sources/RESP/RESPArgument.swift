import NIOCore

/// A value that can be written as command arguments.
public protocol RESPArgument {
    /// How many arguments this value writes; 1 for a scalar.
    var respArgumentCount: Int { get }
    /// Writes the value's arguments.
    func encode(into encoder: inout RESPCommandEncoder)
}

extension RESPArgument {
    /// One argument.
    @inlinable
    public var respArgumentCount: Int { 1 }
}

extension String: RESPArgument {
    /// Writes the string's UTF-8 bytes.
    @inlinable
    public func encode(into encoder: inout RESPCommandEncoder) { encoder.encodeBulk(self) }
}

extension Substring: RESPArgument {
    /// Writes the substring's UTF-8 bytes.
    @inlinable
    public func encode(into encoder: inout RESPCommandEncoder) { encoder.encodeBulk(String(self)) }
}

extension Int: RESPArgument {
    /// Writes the integer in decimal.
    @inlinable
    public func encode(into encoder: inout RESPCommandEncoder) { encoder.encodeBulk(self) }
}

extension Double: RESPArgument {
    /// Writes the double in Redis's form (`inf`, `-inf`, or the shortest decimal).
    @inlinable
    public func encode(into encoder: inout RESPCommandEncoder) {
        if self.isInfinite {
            encoder.encodeBulk(self < 0 ? "-inf" : "inf")
        } else {
            encoder.encodeBulk(String(self))
        }
    }
}

extension ByteBuffer: RESPArgument {
    /// Writes the readable bytes, without copying when they are large.
    @inlinable
    public func encode(into encoder: inout RESPCommandEncoder) { encoder.encodeBulk(self) }
}

extension Array: RESPArgument where Element: RESPArgument {
    /// The sum of the elements' argument counts.
    @inlinable
    public var respArgumentCount: Int {
        // Strings and buffers are one argument each: no walk for the common lists of keys and values.
        if Element.self == String.self || Element.self == ByteBuffer.self { return count }
        return self.reduce(0) { $0 + $1.respArgumentCount }
    }

    /// Writes every element.
    @inlinable
    public func encode(into encoder: inout RESPCommandEncoder) {
        for element in self { element.encode(into: &encoder) }
    }
}

extension Optional: RESPArgument where Wrapped: RESPArgument {
    /// The wrapped value's count, or 0 for `nil`.
    @inlinable
    public var respArgumentCount: Int { self?.respArgumentCount ?? 0 }

    /// Writes the wrapped value, or nothing for `nil`.
    @inlinable
    public func encode(into encoder: inout RESPCommandEncoder) { self?.encode(into: &encoder) }
}
