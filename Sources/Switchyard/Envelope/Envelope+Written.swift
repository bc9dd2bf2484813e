import JSONSchema

extension Envelope {
    /// Reads an envelope laid out exactly as ``write(into:)`` writes it, or returns `nil`.
    ///
    /// Every envelope a Switchyard writer stores has the same members in the same order, compact,
    /// with its own strings (channel, source, schema, timestamp) plain ASCII. This reads those
    /// members where they stand and parses only `data` and `metadata` with the JSON parser, instead
    /// of building the whole object first. Anything else (another order, unknown members,
    /// whitespace, escapes or non-ASCII bytes in those strings, a number that is not a plain
    /// positive integer) returns `nil`, and the caller reads the bytes the general way, which
    /// accepts the same envelopes and gives the errors. So it never accepts what the general way
    /// refuses, and it yields the same envelope for what both accept.
    static func decodeWritten(_ bytes: UnsafeBufferPointer<UInt8>) -> Envelope? {
        var reader = WrittenEnvelopeReader(bytes: bytes)
        guard reader.expect(#"{"event_id":"#), let eventText = reader.plainString(), let eventID = EventID(eventText),
              reader.expect(#","channel":"#), let channelText = reader.plainString(), let channel = try? ChannelName(channelText),
              reader.expect(#","topic":"#), reader.plainString() != nil,
              reader.expect(#","sequence_number":"#), let sequence = reader.positiveInteger(),
              reader.expect(#","timestamp":"#), let timestampText = reader.plainString(), let timestamp = Timestamp(rfc3339: timestampText)
        else { return nil }
        var eventTime: String?
        if reader.expect(#","event_time":"#) {
            guard let text = reader.plainString() else { return nil }
            eventTime = text
        }
        guard reader.expect(#","source":"#), let source = reader.plainString(),
              reader.expect(#","schema":"#), let schema = reader.plainString(),
              reader.expect(#","data":"#), let data = reader.value(),
              reader.expect(#","metadata":"#), let metadataValue = reader.value(),
              reader.expect("}"), reader.isAtEnd
        else { return nil }
        let metadata: JSONObject
        switch metadataValue {
        case .null: metadata = [:]
        case .object(let object): metadata = object
        default: return nil
        }
        return Envelope(
            eventID: eventID, channel: channel, sequenceNumber: sequence, timestamp: timestamp,
            source: source, schema: schema, data: data, metadata: metadata, eventTime: eventTime)
    }
}

/// A cursor over an envelope's bytes for ``Envelope/decodeWritten(_:)``.
private struct WrittenEnvelopeReader {
    let bytes: UnsafeBufferPointer<UInt8>
    var offset = 0

    var isAtEnd: Bool { offset == bytes.count }

    /// Steps over `literal` when it comes next; `false`, moving nowhere, when it does not.
    mutating func expect(_ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard bytes.count - offset >= count else { return false }
        let expected = UnsafeBufferPointer(start: literal.utf8Start, count: count)
        for index in 0..<count where bytes[offset + index] != expected[index] { return false }
        offset += count
        return true
    }

    /// A JSON string of printable ASCII without escapes, whose text is its bytes.
    mutating func plainString() -> String? {
        guard offset < bytes.count, bytes[offset] == UInt8(ascii: "\"") else { return nil }
        let start = offset + 1
        var index = start
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                offset = index + 1
                return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            }
            guard byte >= 0x20, byte < 0x7F, byte != UInt8(ascii: "\\") else { return nil }
            index += 1
        }
        return nil
    }

    /// An integer from 1 to `Int64.max - 1` in plain digits (no sign, no leading zero, no fraction or exponent).
    mutating func positiveInteger() -> Int64? {
        guard offset < bytes.count, (UInt8(ascii: "1")...UInt8(ascii: "9")).contains(bytes[offset]) else { return nil }
        var value: Int64 = 0
        while offset < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[offset]) {
            let (times, overflowTimes) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflowSum) = times.addingReportingOverflow(Int64(bytes[offset] - UInt8(ascii: "0")))
            guard !overflowTimes, !overflowSum else { return nil }
            value = sum
            offset += 1
        }
        if offset < bytes.count {
            switch bytes[offset] {
            case UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"): return nil
            default: break
            }
        }
        return value < .max ? value : nil
    }

    /// The JSON value that starts here, parsed by the JSON parser; its end found by a scan that
    /// skips strings and counts brackets. Nested one level below the envelope, it may be nested
    /// one level less deep than a whole document.
    mutating func value() -> JSONValue? {
        let start = offset
        var depth = 0
        var index = offset
        scan: while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\""):
                index += 1
                while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                    index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
                }
                guard index < bytes.count else { return nil }
                index += 1
                if depth == 0 { break scan }
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                index += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if depth == 0 { break scan }
                depth -= 1
                index += 1
                if depth == 0 { break scan }
            case UInt8(ascii: ","):
                if depth == 0 { break scan }
                index += 1
            default:
                index += 1
            }
        }
        guard index > start, depth == 0,
              let value = try? JSONValue(parsing: UnsafeBufferPointer(rebasing: bytes[start..<index]), maxDepth: JSONValue.defaultMaxDepth - 1)
        else { return nil }
        offset = index
        return value
    }
}
