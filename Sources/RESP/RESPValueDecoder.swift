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

    /// Where the scan of an incomplete value stopped.
    private var scanner = RESPFrameScanner()
    /// How many times a whole value was parsed: once per value, however many reads it took.
    private(set) var parseAttempts = 0
    /// Bytes the frame scanner examined.
    var bytesScanned: Int { scanner.bytesExamined }

    /// Decodes one value, or returns `nil` and leaves `buffer` untouched when it is incomplete.
    ///
    /// The decoder remembers how far it got through an incomplete value, and the next call goes on
    /// from there, so a value arriving in many small reads costs time linear in its size. Use one
    /// decoder per byte stream (as `ByteToMessageHandler` and `NIOSingleStepByteToMessageProcessor` do).
    public mutating func decode(buffer: inout ByteBuffer) throws -> RESPValue? {
        var scanner = self.scanner
        let complete = buffer.withUnsafeReadableBytes { scanner.isComplete($0, limits: self) }
        self.scanner = scanner
        guard complete else { return nil }
        parseAttempts += 1
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
