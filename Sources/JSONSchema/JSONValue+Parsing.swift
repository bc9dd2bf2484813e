import Foundation

extension JSONValue {
    /// The nesting depth of arrays and objects that the parsing initializers accept by default.
    public static let defaultMaxDepth = 512

    /// Parses one JSON text (RFC 8259) from UTF-8 bytes.
    ///
    /// Numbers without fraction or exponent that fit in `Int64` become ``int(_:)``; every other number
    /// becomes ``double(_:)``. A repeated object key keeps its last value.
    /// - Parameters:
    ///   - bytes: The UTF-8 encoded text; surrounding whitespace is allowed, anything else after the value is not.
    ///   - maxDepth: The deepest nesting of arrays and objects accepted.
    /// - Throws: ``JSONParseError`` naming the problem and its byte offset.
    public init(parsing bytes: some Collection<UInt8>, maxDepth: Int = JSONValue.defaultMaxDepth) throws(JSONParseError) {
        let parse = { (buffer: UnsafeBufferPointer<UInt8>) in
            Result { () throws(JSONParseError) in try JSONParser.parse(buffer, maxDepth: maxDepth) }
        }
        if let result = bytes.withContiguousStorageIfAvailable(parse) {
            self = try result.get()
        } else {
            self = try Array(bytes).withUnsafeBufferPointer(parse).get()
        }
    }

    /// Parses one JSON text (RFC 8259) from a string.
    /// - Parameters:
    ///   - text: The JSON text.
    ///   - maxDepth: The deepest nesting of arrays and objects accepted.
    /// - Throws: ``JSONParseError`` naming the problem and its UTF-8 byte offset.
    public init(parsing text: String, maxDepth: Int = JSONValue.defaultMaxDepth) throws(JSONParseError) {
        var text = text
        self = try text.withUTF8 { buffer in
            Result { () throws(JSONParseError) in try JSONParser.parse(buffer, maxDepth: maxDepth) }
        }.get()
    }

    /// Parses one JSON text (RFC 8259) from UTF-8 encoded data.
    /// - Parameters:
    ///   - data: The UTF-8 encoded text.
    ///   - maxDepth: The deepest nesting of arrays and objects accepted.
    /// - Throws: ``JSONParseError`` naming the problem and its byte offset.
    public init(parsing data: Data, maxDepth: Int = JSONValue.defaultMaxDepth) throws(JSONParseError) {
        self = try data.withUnsafeBytes { raw in
            Result { () throws(JSONParseError) in
                try JSONParser.parse(raw.assumingMemoryBound(to: UInt8.self), maxDepth: maxDepth)
            }
        }.get()
    }
}
