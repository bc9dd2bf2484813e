import NIOCore

extension RESPValue {
    /// Writes the value in RESP3 form (RESP2 form for ``null``: `_`), as a server would send it.
    public func encode(into buffer: inout ByteBuffer) {
        switch self {
        case .simpleString(let bytes):
            Self.writeLine(marker: "+", bytes, into: &buffer)
        case .simpleError(let bytes):
            Self.writeLine(marker: "-", bytes, into: &buffer)
        case .blobString(let bytes):
            Self.writeBlob(marker: "$", bytes, into: &buffer)
        case .blobError(let bytes):
            Self.writeBlob(marker: "!", bytes, into: &buffer)
        case .verbatimString(let format, let bytes):
            buffer.writeString("=\(bytes.readableBytes + 4)\r\n\(format):")
            buffer.writeImmutableBuffer(bytes)
            buffer.writeString("\r\n")
        case .integer(let value):
            buffer.writeString(":\(value)\r\n")
        case .double(let value):
            let text = value.isNaN ? "nan" : value.isInfinite ? (value < 0 ? "-inf" : "inf") : "\(value)"
            buffer.writeString(",\(text)\r\n")
        case .bigNumber(let digits):
            buffer.writeString("(\(digits)\r\n")
        case .boolean(let value):
            buffer.writeString(value ? "#t\r\n" : "#f\r\n")
        case .null:
            buffer.writeString("_\r\n")
        case .array(let values):
            Self.writeAggregate(marker: "*", values, into: &buffer)
        case .set(let values):
            Self.writeAggregate(marker: "~", values, into: &buffer)
        case .push(let values):
            Self.writeAggregate(marker: ">", values, into: &buffer)
        case .map(let pairs):
            Self.writePairs(marker: "%", pairs, into: &buffer)
        case .attribute(let pairs, let value):
            Self.writePairs(marker: "|", pairs, into: &buffer)
            value.encode(into: &buffer)
        }
    }

    /// The value's RESP3 bytes.
    public var encoded: ByteBuffer {
        var buffer = ByteBuffer()
        self.encode(into: &buffer)
        return buffer
    }

    private static func writeLine(marker: String, _ bytes: ByteBuffer, into buffer: inout ByteBuffer) {
        buffer.writeString(marker)
        buffer.writeImmutableBuffer(bytes)
        buffer.writeString("\r\n")
    }

    private static func writeBlob(marker: String, _ bytes: ByteBuffer, into buffer: inout ByteBuffer) {
        buffer.writeString("\(marker)\(bytes.readableBytes)\r\n")
        buffer.writeImmutableBuffer(bytes)
        buffer.writeString("\r\n")
    }

    private static func writeAggregate(marker: String, _ values: [RESPValue], into buffer: inout ByteBuffer) {
        buffer.writeString("\(marker)\(values.count)\r\n")
        for value in values { value.encode(into: &buffer) }
    }

    private static func writePairs(marker: String, _ pairs: [Pair], into buffer: inout ByteBuffer) {
        buffer.writeString("\(marker)\(pairs.count)\r\n")
        for pair in pairs {
            pair.key.encode(into: &buffer)
            pair.value.encode(into: &buffer)
        }
    }
}
