import NIOCore
import RESP
import Testing

/// Decodes every value in `bytes`, feeding them in the given chunk sizes.
func decodeAll(_ bytes: [UInt8], splits: [Int] = []) throws -> [RESPValue] {
    var processor = NIOSingleStepByteToMessageProcessor(RESPValueDecoder(), maximumBufferSize: nil)
    var values: [RESPValue] = []
    var start = 0
    for cut in splits + [bytes.count] where cut >= start {
        try processor.process(buffer: ByteBuffer(bytes: bytes[start..<cut])) { values.append($0) }
        start = cut
    }
    return values
}

func decodeOne(_ text: String) throws -> RESPValue? {
    try decodeAll(Array(text.utf8)).first
}

@Suite struct RESPDecoderTests {
    static let cases: [(String, RESPValue)] = [
        ("+OK\r\n", .simpleString("OK")),
        ("-ERR wrong\r\n", .simpleError("ERR wrong")),
        (":0\r\n", .integer(0)),
        (":-42\r\n", .integer(-42)),
        (":+7\r\n", .integer(7)),
        (":9223372036854775807\r\n", .integer(.max)),
        (":-9223372036854775808\r\n", .integer(.min)),
        ("$5\r\nhello\r\n", .blobString("hello")),
        ("$0\r\n\r\n", .blobString("")),
        ("$4\r\na\r\nb\r\n", .blobString("a\r\nb")),
        ("$-1\r\n", .null),
        ("*-1\r\n", .null),
        ("_\r\n", .null),
        ("!9\r\nSYNTAX xy\r\n", .blobError(ByteBuffer(string: "SYNTAX xy"))),
        ("=15\r\ntxt:Some string\r\n", .verbatimString(format: "txt", ByteBuffer(string: "Some string"))),
        (",3.25\r\n", .double(3.25)),
        (",-1.5e3\r\n", .double(-1500)),
        (",inf\r\n", .double(.infinity)),
        (",-inf\r\n", .double(-.infinity)),
        ("(3492890328409238509324850943850943825024385\r\n", .bigNumber("3492890328409238509324850943850943825024385")),
        ("(-12\r\n", .bigNumber("-12")),
        ("#t\r\n", .boolean(true)),
        ("#f\r\n", .boolean(false)),
        ("*0\r\n", .array([])),
        ("*2\r\n:1\r\n$1\r\nx\r\n", .array([.integer(1), .blobString("x")])),
        ("*2\r\n*1\r\n+a\r\n_\r\n", .array([.array([.simpleString("a")]), .null])),
        ("%1\r\n+key\r\n:1\r\n", .map([.init(key: .simpleString("key"), value: .integer(1))])),
        ("~2\r\n+a\r\n+b\r\n", .set([.simpleString("a"), .simpleString("b")])),
        (">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$3\r\nhi!\r\n", .push([.blobString("message"), .blobString("ch"), .blobString("hi!")])),
        (
            "|1\r\n+ttl\r\n:3600\r\n:5\r\n",
            .attribute([.init(key: .simpleString("ttl"), value: .integer(3600))], .integer(5))
        ),
    ]

    @Test(arguments: 0..<Self.cases.count)
    func decodesEveryType(index: Int) throws {
        let (text, expected) = Self.cases[index]
        #expect(try decodeOne(text) == expected)
    }

    @Test func nanDecodes() throws {
        let value = try decodeOne(",nan\r\n")
        guard case .double(let double) = value else {
            Issue.record("expected a double")
            return
        }
        #expect(double.isNaN)
    }

    @Test(arguments: 0..<Self.cases.count)
    func decodesWhenSplitAtEveryOffset(index: Int) throws {
        let (text, expected) = Self.cases[index]
        let bytes = Array(text.utf8)
        for cut in 0...bytes.count {
            #expect(try decodeAll(bytes, splits: [cut]) == [expected], "split at \(cut)")
        }
        #expect(try decodeAll(bytes, splits: Array(0..<bytes.count)) == [expected], "byte by byte")
    }

    @Test func decodesAllCasesBackToBackByteByByte() throws {
        let bytes = Self.cases.flatMap { Array($0.0.utf8) }
        #expect(try decodeAll(bytes, splits: Array(0..<bytes.count)) == Self.cases.map(\.1))
    }

    @Test func encodingRoundTrips() throws {
        for (_, value) in Self.cases {
            let bytes = Array(value.encoded.readableBytesView)
            #expect(try decodeAll(bytes) == [value])
        }
    }

    @Test func incompleteInputWaits() throws {
        #expect(try decodeAll(Array("$5\r\nhel".utf8)).isEmpty)
        #expect(try decodeAll(Array("*2\r\n:1\r\n".utf8)).isEmpty)
        #expect(try decodeAll(Array("+OK\r".utf8)).isEmpty)
        #expect(try decodeAll(Array("*1000000\r\n".utf8)).isEmpty)
    }

    static let malformed: [(String, RESPProtocolError.Code)] = [
        ("?\r\n", .invalidTypeMarker),
        ("hello\r\n", .invalidTypeMarker),
        (":12a\r\n", .invalidInteger),
        (":\r\n", .invalidInteger),
        (":-\r\n", .invalidInteger),
        (":99999999999999999999\r\n", .invalidInteger),
        (":9223372036854775808\r\n", .invalidInteger),
        ("$-2\r\n", .invalidLength),
        ("!-1\r\n", .invalidLength),
        ("$abc\r\n", .invalidInteger),
        ("$3\r\nabcd\r\n", .missingLineTerminator),
        ("+OK\rX", .missingLineTerminator),
        ("#x\r\n", .invalidBoolean),
        ("#tt\r\n", .invalidBoolean),
        (",abc\r\n", .invalidDouble),
        ("(12a\r\n", .invalidBigNumber),
        ("(\r\n", .invalidBigNumber),
        ("=3\r\ntxt\r\n", .invalidVerbatimString),
        ("=5\r\ntxtxy\r\n", .invalidVerbatimString),
        ("_x\r\n", .invalidLength),
        ("%-1\r\n", .invalidLength),
        ("*-5\r\n", .invalidLength),
        ("$?\r\n", .unsupportedStreamedValue),
        ("*?\r\n", .unsupportedStreamedValue),
        ("$600000000\r\n", .invalidLength),
        ("*99999999\r\n", .invalidLength),
    ]

    @Test(arguments: 0..<Self.malformed.count)
    func malformedInputIsATypedError(index: Int) throws {
        let (text, code) = Self.malformed[index]
        #expect {
            _ = try decodeAll(Array(text.utf8))
        } throws: { error in
            (error as? RESPProtocolError)?.code == code
        }
    }

    @Test func overlongLineIsAnError() throws {
        let bytes = [UInt8(ascii: "+")] + [UInt8](repeating: UInt8(ascii: "a"), count: 70_000)
        #expect(throws: RESPProtocolError.self) { _ = try decodeAll(bytes) }
    }

    @Test func depthBombIsRejectedWithoutExhaustingTheStack() throws {
        let bomb = [UInt8](String(repeating: "*1\r\n", count: 1_000_000).utf8) + Array(":1\r\n".utf8)
        #expect {
            _ = try decodeAll(bomb)
        } throws: { error in
            (error as? RESPProtocolError)?.code == .depthExceeded
        }
        let attributes = [UInt8](String(repeating: "|1\r\n+a\r\n", count: 100).utf8)
        #expect(throws: RESPProtocolError.self) { _ = try decodeAll(attributes + Array(":1\r\n".utf8)) }
    }

    @Test func nestingUpToTheLimitDecodes() throws {
        var decoder = RESPValueDecoder(maximumDepth: 4)
        var ok = ByteBuffer(string: "*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n")
        #expect(try decoder.decode(buffer: &ok) != nil)
        var tooDeep = ByteBuffer(string: "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n")
        #expect(throws: RESPProtocolError.self) { _ = try decoder.decode(buffer: &tooDeep) }
    }

    @Test func errorDescriptionHidesTheBytes() throws {
        do {
            _ = try decodeOne("$3\r\nsecretpassword\r\n")
            Issue.record("expected an error")
        } catch {
            #expect(!"\(error)".contains("secret"))
        }
    }
}
