extension JSONValue {
    /// The compact JSON text of this value (no whitespace), with object members in ``JSONObject`` order.
    ///
    /// Integers print as integers. Doubles print in the shortest form that reads back to the same
    /// value (`1.5`, `1e+300`); a double with an integral value keeps a fraction (`2.0`), so it reads
    /// back as a double. Non-finite doubles, which JSON cannot express, print as `null`.
    public func serialized() -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(128)
        write(into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the compact UTF-8 JSON text of this value to `bytes`, as ``serialized()`` describes.
    /// - Parameter bytes: The buffer to append to.
    public func write(into bytes: inout [UInt8]) {
        switch self {
        case .null:
            bytes.append(contentsOf: "null".utf8)
        case .bool(let value):
            bytes.append(contentsOf: value ? "true".utf8 : "false".utf8)
        case .int(let value):
            Self.writeInteger(value, into: &bytes)
        case .double(let value):
            if value.isFinite {
                bytes.append(contentsOf: value.description.utf8)
            } else {
                bytes.append(contentsOf: "null".utf8)
            }
        case .string(let value):
            Self.writeString(value, into: &bytes)
        case .array(let elements):
            bytes.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                element.write(into: &bytes)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let object):
            bytes.append(UInt8(ascii: "{"))
            for (index, member) in object.members.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                Self.writeString(member.key, into: &bytes)
                bytes.append(UInt8(ascii: ":"))
                member.value.write(into: &bytes)
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }

    private static func writeInteger(_ value: Int64, into bytes: inout [UInt8]) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[19 - count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            } while magnitude > 0
            bytes.append(contentsOf: buffer[(20 - count)..<20])
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    private static func writeString(_ value: String, into bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        var value = value
        let plain = value.withUTF8 { buffer in
            guard !buffer.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else { return false }
            bytes.append(contentsOf: buffer)
            return true
        }
        if plain {
            bytes.append(UInt8(ascii: "\""))
            return
        }
        let utf8 = value.utf8
        for byte in utf8 {
            let escaped: UInt8
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): escaped = byte
            case 0x0A: escaped = UInt8(ascii: "n")
            case 0x0D: escaped = UInt8(ascii: "r")
            case 0x09: escaped = UInt8(ascii: "t")
            case 0x08: escaped = UInt8(ascii: "b")
            case 0x0C: escaped = UInt8(ascii: "f")
            case 0..<0x20:
                bytes.append(contentsOf: "\\u00".utf8)
                bytes.append(hexDigits[Int(byte >> 4)])
                bytes.append(hexDigits[Int(byte & 0xF)])
                continue
            default:
                bytes.append(byte)
                continue
            }
            bytes.append(UInt8(ascii: "\\"))
            bytes.append(escaped)
        }
        bytes.append(UInt8(ascii: "\""))
    }
}

extension JSONValue {
    /// The number of bytes ``serialized()`` would produce, counted without building the text.
    public var serializedByteCount: Int {
        switch self {
        case .null: return 4
        case .bool(let value): return value ? 4 : 5
        case .int(let value): return Self.digitCount(value)
        case .double(let value): return value.isFinite ? value.description.utf8.count : 4
        case .string(let value): return Self.stringByteCount(value)
        case .array(let elements):
            var count = max(1, elements.count) + 1
            for element in elements { count += element.serializedByteCount }
            return count
        case .object(let object):
            var count = max(1, object.count) + 1
            for member in object.members { count += Self.stringByteCount(member.key) + 1 + member.value.serializedByteCount }
            return count
        }
    }

    private static func digitCount(_ value: Int64) -> Int {
        var magnitude = value.magnitude
        var count = value < 0 ? 2 : 1
        while magnitude >= 10 {
            magnitude /= 10
            count += 1
        }
        return count
    }

    /// The number of bytes a string takes in compact JSON text, quotes and escapes included.
    public static func serializedByteCount(of string: String) -> Int {
        stringByteCount(string)
    }

    private static func stringByteCount(_ value: String) -> Int {
        var value = value
        return value.withUTF8 { buffer in
            var count = 2 + buffer.count
            for byte in buffer where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), 0x0A, 0x0D, 0x09, 0x08, 0x0C: count += 1
                default: count += 5
                }
            }
            return count
        }
    }
}
