import NIOCore

/// Writes commands as RESP arrays of blob strings, ready for a channel.
///
/// Small arguments are copied into one buffer. A `ByteBuffer` argument of at least
/// ``zeroCopyThreshold`` bytes is not copied: the encoded request refers to it as a separate part,
/// and the channel writes all parts with one vectored write.
public struct RESPCommandEncoder: Sendable {
    /// The size from which a `ByteBuffer` argument is passed by reference instead of copied; 1 KiB.
    public static let zeroCopyThreshold = 1024

    @usableFromInline var buffer: ByteBuffer
    @usableFromInline var parts: [ByteBuffer] = []
    @usableFromInline let allocator: ByteBufferAllocator

    /// Creates an encoder that allocates its buffers from `allocator`.
    public init(allocator: ByteBufferAllocator = ByteBufferAllocator(), capacity: Int = 256) {
        self.allocator = allocator
        self.buffer = allocator.buffer(capacity: capacity)
    }

    /// Writes the header of a command of `count` arguments; write the arguments next.
    @inlinable
    public mutating func encodeArrayHeader(count: Int) {
        self.writeLengthLine(marker: UInt8(ascii: "*"), count)
    }

    /// Writes a whole command from its arguments.
    @inlinable
    public mutating func encode<each Argument: RESPArgument>(_ arguments: repeat each Argument) {
        var count = 0
        for argument in repeat each arguments { count += argument.respArgumentCount }
        self.encodeArrayHeader(count: count)
        for argument in repeat each arguments { argument.encode(into: &self) }
    }

    /// Writes one argument as a blob string.
    @inlinable
    public mutating func encodeBulk(_ string: String) {
        var string = string
        string.withUTF8 { bytes in
            self.writeBulk(bytes)
        }
    }

    /// Writes one argument as a blob string, by reference when it is large.
    @inlinable
    public mutating func encodeBulk(_ bytes: ByteBuffer) {
        if bytes.readableBytes >= Self.zeroCopyThreshold {
            self.writeLengthLine(marker: UInt8(ascii: "$"), bytes.readableBytes)
            self.parts.append(self.buffer)
            self.parts.append(bytes)
            self.buffer = self.allocator.buffer(capacity: 64)
            self.buffer.writeInteger(UInt16(0x0D0A))
        } else {
            bytes.withUnsafeReadableBytes { raw in
                self.writeBulk(UnsafeBufferPointer(start: raw.baseAddress?.assumingMemoryBound(to: UInt8.self), count: raw.count))
            }
        }
    }

    /// Writes one integer argument as a blob string.
    @inlinable
    public mutating func encodeBulk(_ value: Int) {
        guard value >= 0 else {
            self.encodeBulk(String(value))
            return
        }
        let digits = Self.decimalDigits(value)
        self.writeLengthLine(marker: UInt8(ascii: "$"), digits)
        self.buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: digits + 2) { raw in
            Self.writeDigits(value, count: digits, into: raw, at: 0)
            raw[digits] = UInt8(ascii: "\r")
            raw[digits + 1] = UInt8(ascii: "\n")
            return digits + 2
        }
    }

    /// Writes `$<count>\r\n<bytes>\r\n` with one capacity check.
    @inlinable
    mutating func writeBulk(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: Self.bulkSize(bytes.count)) { raw in
            var writer = RESPCommandWriter(raw: raw, offset: 0)
            writer.writeBulk(UnsafeRawBufferPointer(bytes))
            return writer.offset
        }
    }

    /// Writes `<marker><value>\r\n` for a non-negative value.
    @inlinable
    mutating func writeLengthLine(marker: UInt8, _ value: Int) {
        let digits = Self.decimalDigits(value)
        self.buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: digits + 3) { raw in
            raw[0] = marker
            Self.writeDigits(value, count: digits, into: raw, at: 1)
            raw[digits + 1] = UInt8(ascii: "\r")
            raw[digits + 2] = UInt8(ascii: "\n")
            return digits + 3
        }
    }

    @inlinable
    static func decimalDigits(_ value: Int) -> Int {
        var digits = 1
        var rest = value
        while rest >= 10 {
            rest /= 10
            digits += 1
        }
        return digits
    }

    @inlinable
    static func writeDigits(_ value: Int, count: Int, into raw: UnsafeMutableRawBufferPointer, at offset: Int) {
        var rest = value
        var index = offset + count - 1
        repeat {
            raw[index] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest % 10)
            rest /= 10
            index -= 1
        } while index >= offset
    }

    /// The bytes ``encodeBulk(_:)-(String)`` writes for an argument of `byteCount` bytes below
    /// ``zeroCopyThreshold``: `$<byteCount>\r\n<bytes>\r\n`.
    @inlinable
    public static func bulkSize(_ byteCount: Int) -> Int {
        Self.decimalDigits(byteCount) + byteCount + 5
    }

    /// Writes a whole command of small arguments with one capacity check, instead of one per argument.
    ///
    /// Writes the array header of `argumentCount` arguments, then lets `body` write the arguments
    /// with the writer it is given. `argumentBytes` is the sum of ``bulkSize(_:)`` over the
    /// arguments; the writer traps rather than write past the space reserved.
    /// - Parameters:
    ///   - argumentCount: how many arguments `body` writes.
    ///   - argumentBytes: how many bytes they take.
    ///   - body: writes the arguments, each with one of the writer's `writeBulk` methods.
    @inlinable
    public mutating func encodeCommand(argumentCount: Int, argumentBytes: Int, _ body: (inout RESPCommandWriter) -> Void) {
        let headerDigits = Self.decimalDigits(argumentCount)
        self.buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: headerDigits + 3 + argumentBytes) { raw in
            raw[0] = UInt8(ascii: "*")
            Self.writeDigits(argumentCount, count: headerDigits, into: raw, at: 1)
            raw[headerDigits + 1] = UInt8(ascii: "\r")
            raw[headerDigits + 2] = UInt8(ascii: "\n")
            var writer = RESPCommandWriter(raw: raw, offset: headerDigits + 3)
            body(&writer)
            return writer.offset
        }
    }

    /// Takes the encoded bytes out of the encoder, leaving it empty.
    public mutating func finish() -> RESPEncodedRequest {
        var parts = self.parts
        parts.append(self.buffer)
        self.parts = []
        self.buffer = self.allocator.buffer(capacity: 64)
        return RESPEncodedRequest(parts: parts)
    }
}

/// Writes the arguments of one command into space reserved by
/// ``RESPCommandEncoder/encodeCommand(argumentCount:argumentBytes:_:)``.
public struct RESPCommandWriter {
    @usableFromInline let raw: UnsafeMutableRawBufferPointer
    @usableFromInline var offset: Int

    @inlinable
    init(raw: UnsafeMutableRawBufferPointer, offset: Int) {
        self.raw = raw
        self.offset = offset
    }

    /// Writes one argument as a blob string.
    @inlinable
    public mutating func writeBulk(_ string: String) {
        var string = string
        string.withUTF8 { bytes in
            self.writeBulk(UnsafeRawBufferPointer(bytes))
        }
    }

    /// Writes one argument as a blob string (copied: reserve space only for small buffers).
    @inlinable
    public mutating func writeBulk(_ bytes: ByteBuffer) {
        bytes.withUnsafeReadableBytes { self.writeBulk($0) }
    }

    /// Writes one argument as a blob string.
    @inlinable
    public mutating func writeBulk(_ bytes: UnsafeRawBufferPointer) {
        let digits = RESPCommandEncoder.decimalDigits(bytes.count)
        let size = digits + bytes.count + 5
        precondition(self.raw.count - self.offset >= size, "RESPCommandWriter: more bytes than were reserved")
        let start = self.offset
        self.raw[start] = UInt8(ascii: "$")
        RESPCommandEncoder.writeDigits(bytes.count, count: digits, into: self.raw, at: start + 1)
        self.raw[start + digits + 1] = UInt8(ascii: "\r")
        self.raw[start + digits + 2] = UInt8(ascii: "\n")
        if let base = bytes.baseAddress, bytes.count > 0 {
            (self.raw.baseAddress! + start + digits + 3).copyMemory(from: base, byteCount: bytes.count)
        }
        self.raw[start + digits + 3 + bytes.count] = UInt8(ascii: "\r")
        self.raw[start + digits + 4 + bytes.count] = UInt8(ascii: "\n")
        self.offset = start + size
    }
}

/// The bytes of one or more encoded commands: usually one buffer, more when large arguments were
/// passed by reference.
public struct RESPEncodedRequest: Sendable {
    /// The buffers to write, in order.
    public var parts: [ByteBuffer]

    /// Creates a request from its parts.
    public init(parts: [ByteBuffer]) {
        self.parts = parts
    }

    /// All parts joined into one buffer (copies; for tests and diagnostics).
    public var joined: ByteBuffer {
        var result = ByteBuffer()
        for part in self.parts { result.writeImmutableBuffer(part) }
        return result
    }
}
