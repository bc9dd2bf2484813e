import NIOCore

extension RESPValue {
    /// The value with any attributes removed.
    public var withoutAttributes: RESPValue {
        if case .attribute(_, let value) = self { return value.withoutAttributes }
        return self
    }

    /// The bytes of a simple, blob or verbatim string; `nil` for any other value.
    public var bytes: ByteBuffer? {
        // Switches on the value itself rather than on a copy without attributes: this runs once per
        // reply of most commands.
        switch self {
        case .simpleString(let buffer), .blobString(let buffer), .verbatimString(_, let buffer):
            return buffer
        case .attribute(_, let value):
            return value.bytes
        default:
            return nil
        }
    }

    /// The text of a string value, or the decimal form of an integer, double or big number.
    public var string: String? {
        switch self.withoutAttributes {
        case .simpleString(let buffer), .blobString(let buffer), .verbatimString(_, let buffer):
            return String(buffer: buffer)
        case .integer(let value):
            return String(value)
        case .double(let value):
            return String(value)
        case .bigNumber(let digits):
            return digits
        default:
            return nil
        }
    }

    /// The integer of an integer value, or of a string that holds one.
    public var int: Int? {
        switch self.withoutAttributes {
        case .integer(let value):
            return Int(exactly: value)
        case .simpleString, .blobString:
            return self.string.flatMap { Int($0) }
        default:
            return nil
        }
    }

    /// The double of a double value, or of an integer or a string that holds one.
    public var double: Double? {
        switch self.withoutAttributes {
        case .double(let value):
            return value
        case .integer(let value):
            return Double(value)
        case .simpleString, .blobString:
            return self.string.flatMap { Double($0) }
        default:
            return nil
        }
    }

    /// The elements of an array, set or push; `nil` for any other value.
    public var elements: [RESPValue]? {
        switch self.withoutAttributes {
        case .array(let values), .set(let values), .push(let values):
            return values
        default:
            return nil
        }
    }

    /// The pairs of a map, or of a RESP2 flat array of alternating keys and values.
    public var pairs: [Pair]? {
        switch self.withoutAttributes {
        case .map(let pairs):
            return pairs
        case .array(let values) where values.count % 2 == 0:
            return stride(from: 0, to: values.count, by: 2).map { Pair(key: values[$0], value: values[$0 + 1]) }
        default:
            return nil
        }
    }

    /// Whether this is a null.
    public var isNull: Bool {
        if case .null = self.withoutAttributes { return true }
        return false
    }

    /// Whether this is a simple or blob error; unlike ``errorMessage``, builds no string.
    public var isError: Bool {
        switch self {
        case .simpleError, .blobError: return true
        case .attribute(_, let value): return value.isError
        default: return false
        }
    }

    /// The message of a simple or blob error; `nil` for any other value.
    public var errorMessage: String? {
        switch self.withoutAttributes {
        case .simpleError(let buffer), .blobError(let buffer):
            return String(buffer: buffer)
        default:
            return nil
        }
    }
}
