import NIOCore

/// Decodes RESP2 and RESP3 values from bytes that may arrive split anywhere.
///
/// Use it with `ByteToMessageHandler` or `NIOSingleStepByteToMessageProcessor`. It returns `nil`
/// until a whole value has arrived, and throws ``RESPProtocolError`` for bytes that are not RESP.
/// Nesting, blob lengths and line lengths are bounded, so no input can exhaust the stack or
/// make it reserve unbounded memory.
public struct RESPValueDecoder: NIOSingleStepByteToMessageDecoder {
    /// The decoded value.
    public typealias InboundOut = RESPValue

    /// How deeply aggregates (arrays, maps, sets, pushes, attributes) may nest; 32 by default.
    public var maximumDepth: Int
    /// The longest blob string accepted, in bytes; 512 MiB by default, as Redis's `proto-max-bulk-len`.
    public var maximumBlobLength: Int
    /// The longest line (simple string, error, number) accepted, in bytes; 64 KiB by default.
    public var maximumLineLength: Int
    /// The most elements one aggregate may announce; 2^24 by default.
    public var maximumAggregateCount: Int

    /// Creates a decoder with the given limits.
    public init(
        maximumDepth: Int = 32,
        maximumBlobLength: Int = 512 * 1024 * 1024,
        maximumLineLength: Int = 64 * 1024,
        maximumAggregateCount: Int = 1 << 24
    ) {
        self.maximumDepth = maximumDepth
        self.maximumBlobLength = maximumBlobLength
        self.maximumLineLength = maximumLineLength
        self.maximumAggregateCount = maximumAggregateCount
    }

    /// Decodes one value, or returns `nil` and leaves `buffer` untouched when it is incomplete.
    public mutating func decode(buffer: inout ByteBuffer) throws -> RESPValue? {
        let start = buffer.readerIndex
        let parser = RESPParser(decoder: self, origin: start)
        do {
            if let value = try parser.parseValue(&buffer, depth: 0) {
                return value
            }
        } catch {
            buffer.moveReaderIndex(to: start)
            throw error
        }
        buffer.moveReaderIndex(to: start)
        return nil
    }

    /// Decodes what is left when the connection closes; an incomplete value is dropped.
    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> RESPValue? {
        try self.decode(buffer: &buffer)
    }
}
