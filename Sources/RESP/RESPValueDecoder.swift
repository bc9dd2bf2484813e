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

    /// The limits the frame scanner checks, copied out so that it can be updated in place.
    struct Limits {
        let maximumDepth: Int
        let maximumBlobLength: Int
        let maximumLineLength: Int
        let maximumAggregateCount: Int

        init(_ decoder: RESPValueDecoder) {
            self.maximumDepth = decoder.maximumDepth
            self.maximumBlobLength = decoder.maximumBlobLength
            self.maximumLineLength = decoder.maximumLineLength
            self.maximumAggregateCount = decoder.maximumAggregateCount
        }
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
        if self.scanner.isFresh, let value = self.decodeWholeScalar(&buffer) {
            parseAttempts += 1
            return value
        }
        let limits = Limits(self)
        let complete = buffer.withUnsafeReadableBytes { self.scanner.isComplete($0, limits: limits) }
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

    /// The fast path for the replies of most commands: a blob string, simple string, error or
    /// integer that has wholly arrived and is well-formed, read in one pass without the frame scan.
    ///
    /// Returns `nil` for anything else (another type, an incomplete value, anything malformed or
    /// past a limit), and leaves the buffer as it was: the frame scanner and the parser then take
    /// the value as before, so their progress keeping and their errors are unchanged. The scanner
    /// is fresh when this runs, so the bytes are looked at here at most once per value, and at most
    /// ``fastPathLineLimit`` bytes of them while a value is incomplete.
    private func decodeWholeScalar(_ buffer: inout ByteBuffer) -> RESPValue? {
        let maximumBlobLength = self.maximumBlobLength
        let maximumLineLength = self.maximumLineLength
        // (marker, start of the payload, its length, the bytes the whole value takes); the integer
        // for `:` and the length -1 for a null blob come back as the payload's length.
        let frame: (marker: UInt8, start: Int, length: Int, total: Int)? = buffer.withUnsafeReadableBytes { bytes in
            guard bytes.count >= 4 else { return nil }
            let marker = bytes[0]
            switch marker {
            case UInt8(ascii: "$"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: ":"): break
            default: return nil
            }
            let searchEnd = min(bytes.count - 1, Self.fastPathLineLimit, maximumLineLength + 1)
            var lineEnd = 1
            while lineEnd < searchEnd, bytes[lineEnd] != UInt8(ascii: "\r") { lineEnd += 1 }
            guard lineEnd < searchEnd, bytes[lineEnd + 1] == UInt8(ascii: "\n"), lineEnd - 1 <= maximumLineLength else { return nil }
            let afterLine = lineEnd + 2
            switch marker {
            case UInt8(ascii: "+"), UInt8(ascii: "-"):
                return (marker, 1, lineEnd - 1, afterLine)
            case UInt8(ascii: ":"):
                guard let value = Self.integer(bytes, from: 1, to: lineEnd, maximumDigits: 19) else { return nil }
                return (marker, 0, value, afterLine)
            default:
                guard let length = Self.integer(bytes, from: 1, to: lineEnd, maximumDigits: 18) else { return nil }
                if length == -1 { return (marker, 0, -1, afterLine) }
                guard length >= 0, length <= maximumBlobLength, bytes.count - afterLine >= length + 2,
                    bytes[afterLine + length] == UInt8(ascii: "\r"), bytes[afterLine + length + 1] == UInt8(ascii: "\n")
                else { return nil }
                return (marker, afterLine, length, afterLine + length + 2)
            }
        }
        guard let frame else { return nil }
        let value: RESPValue
        switch frame.marker {
        case UInt8(ascii: ":"):
            value = .integer(Int64(frame.length))
        case UInt8(ascii: "$") where frame.length == -1:
            value = .null
        default:
            let payload = buffer.getSlice(at: buffer.readerIndex + frame.start, length: frame.length)!
            switch frame.marker {
            case UInt8(ascii: "+"): value = .simpleString(payload)
            case UInt8(ascii: "-"): value = .simpleError(payload)
            default: value = .blobString(payload)
            }
        }
        buffer.moveReaderIndex(forwardBy: frame.total)
        return value
    }

    /// How far the fast path looks for a line's end before it leaves the value to the frame scanner.
    static let fastPathLineLimit = 256

    /// A signed decimal of at most `maximumDigits` digits in `bytes[from..<to]`; `nil` for anything else.
    private static func integer(_ bytes: UnsafeRawBufferPointer, from: Int, to: Int, maximumDigits: Int) -> Int? {
        var index = from
        var negative = false
        if index < to, bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+") {
            negative = bytes[index] == UInt8(ascii: "-")
            index += 1
        }
        let digits = to - index
        // 18 digits always fit; the 19-digit integers of `:` go to the parser, which checks overflow.
        guard digits > 0, digits <= min(maximumDigits, 18) else { return nil }
        var value = 0
        while index < to {
            let byte = bytes[index] &- UInt8(ascii: "0")
            guard byte <= 9 else { return nil }
            value = value &* 10 &+ Int(byte)
            index += 1
        }
        return negative ? -value : value
    }

    /// Decodes what is left when the connection closes; an incomplete value is dropped.
    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> RESPValue? {
        try self.decode(buffer: &buffer)
    }
}
