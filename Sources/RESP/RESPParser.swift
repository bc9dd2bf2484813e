import NIOCore

/// The recursive-descent parser behind ``RESPValueDecoder``; `nil` means "wait for more bytes".
struct RESPParser {
    let decoder: RESPValueDecoder
    let origin: Int

    init(decoder: RESPValueDecoder, origin: Int) {
        self.decoder = decoder
        self.origin = origin
    }

    private func error(_ code: RESPProtocolError.Code, _ buffer: ByteBuffer) -> RESPProtocolError {
        RESPProtocolError(code: code, offset: buffer.readerIndex - self.origin)
    }

    func parseValue(_ buffer: inout ByteBuffer, depth: Int) throws(RESPProtocolError) -> RESPValue? {
        guard let marker = buffer.readInteger(as: UInt8.self) else { return nil }
        switch marker {
        case UInt8(ascii: "+"):
            return try self.readLine(&buffer).map { .simpleString($0) }
        case UInt8(ascii: "-"):
            return try self.readLine(&buffer).map { .simpleError($0) }
        case UInt8(ascii: ":"):
            guard let line = try self.readLine(&buffer) else { return nil }
            return .integer(try self.parseInteger(line, buffer))
        case UInt8(ascii: "$"):
            guard let length = try self.readLength(&buffer, allowsNull: true) else { return nil }
            if length == -1 { return .null }
            return try self.readBlob(&buffer, length: length).map { .blobString($0) }
        case UInt8(ascii: "!"):
            guard let length = try self.readLength(&buffer, allowsNull: false) else { return nil }
            return try self.readBlob(&buffer, length: length).map { .blobError($0) }
        case UInt8(ascii: "="):
            guard let length = try self.readLength(&buffer, allowsNull: false) else { return nil }
            guard var blob = try self.readBlob(&buffer, length: length) else { return nil }
            guard blob.readableBytes >= 4, blob.getInteger(at: blob.readerIndex + 3, as: UInt8.self) == UInt8(ascii: ":")
            else { throw self.error(.invalidVerbatimString, buffer) }
            let format = blob.readString(length: 3) ?? ""
            blob.moveReaderIndex(forwardBy: 1)
            return .verbatimString(format: format, blob)
        case UInt8(ascii: ","):
            guard let line = try self.readLine(&buffer) else { return nil }
            guard let value = Double(String(buffer: line)) else { throw self.error(.invalidDouble, buffer) }
            return .double(value)
        case UInt8(ascii: "("):
            guard let line = try self.readLine(&buffer) else { return nil }
            let digits = String(buffer: line)
            let body = digits.first == "-" || digits.first == "+" ? digits.dropFirst() : Substring(digits)
            guard !body.isEmpty, body.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
            else { throw self.error(.invalidBigNumber, buffer) }
            return .bigNumber(digits)
        case UInt8(ascii: "#"):
            guard let line = try self.readLine(&buffer) else { return nil }
            switch line.readableBytesView.first {
            case UInt8(ascii: "t") where line.readableBytes == 1: return .boolean(true)
            case UInt8(ascii: "f") where line.readableBytes == 1: return .boolean(false)
            default: throw self.error(.invalidBoolean, buffer)
            }
        case UInt8(ascii: "_"):
            guard let line = try self.readLine(&buffer) else { return nil }
            guard line.readableBytes == 0 else { throw self.error(.invalidLength, buffer) }
            return .null
        case UInt8(ascii: "*"):
            guard let count = try self.readCount(&buffer, depth: depth, allowsNull: true, perElement: 3) else { return nil }
            if count == -1 { return .null }
            return try self.readElements(&buffer, count: count, depth: depth).map { .array($0) }
        case UInt8(ascii: "~"):
            guard let count = try self.readCount(&buffer, depth: depth, allowsNull: false, perElement: 3) else { return nil }
            return try self.readElements(&buffer, count: count, depth: depth).map { .set($0) }
        case UInt8(ascii: ">"):
            guard let count = try self.readCount(&buffer, depth: depth, allowsNull: false, perElement: 3) else { return nil }
            return try self.readElements(&buffer, count: count, depth: depth).map { .push($0) }
        case UInt8(ascii: "%"):
            guard let count = try self.readCount(&buffer, depth: depth, allowsNull: false, perElement: 6) else { return nil }
            return try self.readPairs(&buffer, count: count, depth: depth).map { .map($0) }
        case UInt8(ascii: "|"):
            guard let count = try self.readCount(&buffer, depth: depth, allowsNull: false, perElement: 6) else { return nil }
            guard let pairs = try self.readPairs(&buffer, count: count, depth: depth) else { return nil }
            guard let value = try self.parseValue(&buffer, depth: depth + 1) else { return nil }
            return .attribute(pairs, value)
        default:
            buffer.moveReaderIndex(to: buffer.readerIndex - 1)
            throw self.error(.invalidTypeMarker, buffer)
        }
    }

    private func readElements(_ buffer: inout ByteBuffer, count: Int, depth: Int) throws(RESPProtocolError) -> [RESPValue]? {
        var values: [RESPValue] = []
        values.reserveCapacity(count)
        for _ in 0..<count {
            guard let value = try self.parseValue(&buffer, depth: depth + 1) else { return nil }
            values.append(value)
        }
        return values
    }

    private func readPairs(_ buffer: inout ByteBuffer, count: Int, depth: Int) throws(RESPProtocolError) -> [RESPValue.Pair]? {
        var pairs: [RESPValue.Pair] = []
        pairs.reserveCapacity(count)
        for _ in 0..<count {
            guard let key = try self.parseValue(&buffer, depth: depth + 1) else { return nil }
            guard let value = try self.parseValue(&buffer, depth: depth + 1) else { return nil }
            pairs.append(.init(key: key, value: value))
        }
        return pairs
    }

    /// Reads an aggregate's count; returns `nil` early when the bytes cannot hold that many elements yet.
    private func readCount(
        _ buffer: inout ByteBuffer,
        depth: Int,
        allowsNull: Bool,
        perElement: Int
    ) throws(RESPProtocolError) -> Int? {
        guard depth < self.decoder.maximumDepth else { throw self.error(.depthExceeded, buffer) }
        guard let count = try self.readLength(&buffer, allowsNull: allowsNull) else { return nil }
        guard count <= self.decoder.maximumAggregateCount else { throw self.error(.invalidLength, buffer) }
        if count > 0, buffer.readableBytes / perElement < count { return nil }
        return count
    }

    private func readLength(_ buffer: inout ByteBuffer, allowsNull: Bool) throws(RESPProtocolError) -> Int? {
        guard let line = try self.readLine(&buffer) else { return nil }
        if line.readableBytes == 1, line.readableBytesView.first == UInt8(ascii: "?") {
            throw self.error(.unsupportedStreamedValue, buffer)
        }
        let value = try self.parseInteger(line, buffer)
        guard value >= (allowsNull ? -1 : 0) else { throw self.error(.invalidLength, buffer) }
        return Int(value)
    }

    private func readBlob(_ buffer: inout ByteBuffer, length: Int) throws(RESPProtocolError) -> ByteBuffer? {
        guard length <= self.decoder.maximumBlobLength else { throw self.error(.invalidLength, buffer) }
        guard buffer.readableBytes >= length + 2 else { return nil }
        let blob = buffer.readSlice(length: length)!
        guard buffer.readInteger(as: UInt16.self) == 0x0D0A else {
            throw self.error(.missingLineTerminator, buffer)
        }
        return blob
    }

    /// Reads up to `\r\n` and returns the line without it, or `nil` when the terminator has not arrived.
    private func readLine(_ buffer: inout ByteBuffer) throws(RESPProtocolError) -> ByteBuffer? {
        let limit = self.decoder.maximumLineLength
        let found: Int? = buffer.withUnsafeReadableBytes { raw in
            raw.firstIndex(of: UInt8(ascii: "\r"))
        }
        guard let length = found else {
            if buffer.readableBytes > limit { throw self.error(.lineTooLong, buffer) }
            return nil
        }
        if length > limit { throw self.error(.lineTooLong, buffer) }
        guard length + 1 < buffer.readableBytes else { return nil }
        guard buffer.getInteger(at: buffer.readerIndex + length + 1, as: UInt8.self) == UInt8(ascii: "\n") else {
            buffer.moveReaderIndex(forwardBy: length)
            throw self.error(.missingLineTerminator, buffer)
        }
        let line = buffer.readSlice(length: length)!
        buffer.moveReaderIndex(forwardBy: 2)
        return line
    }

    private func parseInteger(_ line: ByteBuffer, _ buffer: ByteBuffer) throws(RESPProtocolError) -> Int64 {
        let parsed: Int64? = line.withUnsafeReadableBytes { raw in
            var index = 0
            var negative = false
            if let first = raw.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
                negative = first == UInt8(ascii: "-")
                index = 1
            }
            guard raw.count > index, raw.count - index <= 19 else { return nil }
            var value: Int64 = 0
            while index < raw.count {
                let byte = raw[index]
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                let digit = Int64(byte &- UInt8(ascii: "0"))
                let (times, o1) = value.multipliedReportingOverflow(by: 10)
                let (sum, o2) = negative ? times.subtractingReportingOverflow(digit) : times.addingReportingOverflow(digit)
                guard !o1, !o2 else { return nil }
                value = sum
                index += 1
            }
            return value
        }
        guard let parsed else { throw self.error(.invalidInteger, buffer) }
        return parsed
    }
}
