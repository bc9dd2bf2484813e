/// A strict RFC 8259 parser over a contiguous byte buffer.
///
/// Objects keep the last value of a repeated key, at the position of its first occurrence.
struct JSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    private let maxDepth: Int
    var offset = 0
    private var depth = 0
    private var scratch: [UInt8] = []
    private var keyHashes: [UInt64] = []
    private var lastStringHash: UInt64 = 0

    private init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
        keyHashes.reserveCapacity(16)
    }

    /// Parses exactly one JSON text, surrounded by optional whitespace.
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) throws(JSONParseError) -> JSONValue {
        var parser = JSONParser(bytes: bytes, maxDepth: maxDepth)
        parser.skipWhitespace()
        let value = try parser.parseValue()
        parser.skipWhitespace()
        guard parser.offset == bytes.count else { throw JSONParseError(.trailingData, offset: parser.offset) }
        return value
    }

    func failure(_ code: JSONParseError.Code) -> JSONParseError {
        JSONParseError(offset < bytes.count ? code : .unexpectedEnd, offset: offset)
    }

    private mutating func skipWhitespace() {
        while offset < bytes.count {
            switch bytes[offset] {
            case 0x20, 0x09, 0x0A, 0x0D: offset += 1
            default: return
            }
        }
    }

    private mutating func parseValue() throws(JSONParseError) -> JSONValue {
        guard offset < bytes.count else { throw failure(.unexpectedEnd) }
        switch bytes[offset] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw failure(.unexpectedByte)
        }
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let expected = UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
        for byte in expected {
            guard offset < bytes.count, bytes[offset] == byte else { throw failure(.unexpectedByte) }
            offset += 1
        }
    }

    private mutating func enterContainer() throws(JSONParseError) {
        depth += 1
        guard depth <= maxDepth else { throw JSONParseError(.nestingTooDeep, offset: offset) }
        offset += 1
        skipWhitespace()
    }

    private mutating func parseArray() throws(JSONParseError) -> JSONValue {
        try enterContainer()
        if offset < bytes.count, bytes[offset] == UInt8(ascii: "]") {
            offset += 1
            depth -= 1
            return .array([])
        }
        var elements: [JSONValue] = []
        elements.reserveCapacity(4)
        while true {
            elements.append(try parseValue())
            skipWhitespace()
            guard offset < bytes.count else { throw failure(.unexpectedEnd) }
            switch bytes[offset] {
            case UInt8(ascii: ","):
                offset += 1
                skipWhitespace()
            case UInt8(ascii: "]"):
                offset += 1
                depth -= 1
                return .array(elements)
            default:
                throw failure(.unexpectedByte)
            }
        }
    }

    private mutating func parseObject() throws(JSONParseError) -> JSONValue {
        try enterContainer()
        if offset < bytes.count, bytes[offset] == UInt8(ascii: "}") {
            offset += 1
            depth -= 1
            return .object(JSONObject())
        }
        var members: [(key: String, value: JSONValue)] = []
        members.reserveCapacity(8)
        let base = keyHashes.count
        defer { keyHashes.removeSubrange(base...) }
        while true {
            guard offset < bytes.count else { throw failure(.unexpectedEnd) }
            guard bytes[offset] == UInt8(ascii: "\"") else { throw failure(.unexpectedByte) }
            let key = try parseString()
            let hash = lastStringHash
            skipWhitespace()
            guard offset < bytes.count, bytes[offset] == UInt8(ascii: ":") else { throw failure(.unexpectedByte) }
            offset += 1
            skipWhitespace()
            let value = try parseValue()
            if let index = indexOfKey(key, hash: hash, in: members, from: base) {
                members[index].value = value
            } else {
                members.append((key, value))
                keyHashes.append(hash)
            }
            skipWhitespace()
            guard offset < bytes.count else { throw failure(.unexpectedEnd) }
            switch bytes[offset] {
            case UInt8(ascii: ","):
                offset += 1
                skipWhitespace()
            case UInt8(ascii: "}"):
                offset += 1
                depth -= 1
                return .object(JSONObject(distinctMembers: members))
            default:
                throw failure(.unexpectedByte)
            }
        }
    }

    private func indexOfKey(_ key: String, hash: UInt64, in members: [(key: String, value: JSONValue)], from base: Int) -> Int? {
        var index = base
        while index < keyHashes.count {
            if keyHashes[index] == hash, members[index - base].key == key { return index - base }
            index += 1
        }
        return nil
    }

    private mutating func parseString() throws(JSONParseError) -> String {
        offset += 1
        let start = offset
        var hash = Self.hashSeed
        while offset < bytes.count {
            let byte = bytes[offset]
            if byte == UInt8(ascii: "\"") {
                let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<offset]), as: UTF8.self)
                offset += 1
                lastStringHash = hash
                return text
            }
            if byte == UInt8(ascii: "\\") { return try parseEscapedString(from: start) }
            if byte < 0x20 { throw failure(.controlCharacterInString) }
            if byte < 0x80 {
                hash = (hash ^ UInt64(byte)) &* Self.hashPrime
                offset += 1
            } else {
                let end = try endOfUTF8Sequence()
                while offset < end {
                    hash = (hash ^ UInt64(bytes[offset])) &* Self.hashPrime
                    offset += 1
                }
            }
        }
        throw failure(.unexpectedEnd)
    }

    private static let hashSeed: UInt64 = 0xcbf2_9ce4_8422_2325
    private static let hashPrime: UInt64 = 0x100_0000_01b3

    private mutating func parseEscapedString(from start: Int) throws(JSONParseError) -> String {
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<offset]))
        while offset < bytes.count {
            let byte = bytes[offset]
            switch byte {
            case UInt8(ascii: "\""):
                offset += 1
                var hash = Self.hashSeed
                for byte in scratch { hash = (hash ^ UInt64(byte)) &* Self.hashPrime }
                lastStringHash = hash
                return String(decoding: scratch, as: UTF8.self)
            case UInt8(ascii: "\\"):
                try parseEscape()
            case 0..<0x20:
                throw failure(.controlCharacterInString)
            case 0x80...:
                let end = try endOfUTF8Sequence()
                scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[offset..<end]))
                offset = end
            default:
                scratch.append(byte)
                offset += 1
            }
        }
        throw failure(.unexpectedEnd)
    }

    private mutating func parseEscape() throws(JSONParseError) {
        offset += 1
        guard offset < bytes.count else { throw failure(.unexpectedEnd) }
        let escaped: UInt8
        switch bytes[offset] {
        case UInt8(ascii: "\""): escaped = UInt8(ascii: "\"")
        case UInt8(ascii: "\\"): escaped = UInt8(ascii: "\\")
        case UInt8(ascii: "/"): escaped = UInt8(ascii: "/")
        case UInt8(ascii: "b"): escaped = 0x08
        case UInt8(ascii: "f"): escaped = 0x0C
        case UInt8(ascii: "n"): escaped = 0x0A
        case UInt8(ascii: "r"): escaped = 0x0D
        case UInt8(ascii: "t"): escaped = 0x09
        case UInt8(ascii: "u"):
            offset += 1
            try parseUnicodeEscape()
            return
        default:
            throw failure(.invalidEscape)
        }
        scratch.append(escaped)
        offset += 1
    }

    private mutating func parseUnicodeEscape() throws(JSONParseError) {
        let escapeStart = offset - 2
        var scalar = try hexQuad()
        if (0xDC00...0xDFFF).contains(scalar) { throw JSONParseError(.loneSurrogate, offset: escapeStart) }
        if (0xD800...0xDBFF).contains(scalar) {
            guard offset + 1 < bytes.count, bytes[offset] == UInt8(ascii: "\\"), bytes[offset + 1] == UInt8(ascii: "u")
            else { throw JSONParseError(.loneSurrogate, offset: escapeStart) }
            offset += 2
            let low = try hexQuad()
            guard (0xDC00...0xDFFF).contains(low) else { throw JSONParseError(.loneSurrogate, offset: escapeStart) }
            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
        }
        for unit in UTF8.encode(Unicode.Scalar(scalar)!)! { scratch.append(unit) }
    }

    private mutating func hexQuad() throws(JSONParseError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard offset < bytes.count else { throw failure(.unexpectedEnd) }
            let byte = bytes[offset]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw failure(.invalidEscape)
            }
            value = value << 4 | UInt32(digit)
            offset += 1
        }
        return value
    }

    /// Checks the UTF-8 sequence that starts at `offset` (RFC 3629) and returns the offset after it.
    private func endOfUTF8Sequence() throws(JSONParseError) -> Int {
        let lead = bytes[offset]
        let length: Int
        var secondRange: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; secondRange = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; secondRange = 0x80...0x9F
        case 0xF0: length = 4; secondRange = 0x90...0xBF
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; secondRange = 0x80...0x8F
        default: throw JSONParseError(.invalidUTF8, offset: offset)
        }
        guard offset + length <= bytes.count else { throw JSONParseError(.unexpectedEnd, offset: bytes.count) }
        guard secondRange.contains(bytes[offset + 1]) else { throw JSONParseError(.invalidUTF8, offset: offset) }
        for index in (offset + 2)..<(offset + length) where bytes[index] & 0xC0 != 0x80 {
            throw JSONParseError(.invalidUTF8, offset: offset)
        }
        return offset + length
    }
}
