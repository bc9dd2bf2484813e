import NIOCore
import RESP
import Testing

@Suite struct RESPEncoderTests {
    @Test func encodesCommandsAsArraysOfBlobStrings() {
        var encoder = RESPCommandEncoder()
        encoder.encode("SET", "key", 42, -7, 1.5)
        let bytes = encoder.finish().joined
        #expect(String(buffer: bytes) == "*5\r\n$3\r\nSET\r\n$3\r\nkey\r\n$2\r\n42\r\n$2\r\n-7\r\n$3\r\n1.5\r\n")
    }

    @Test func optionalsAndArraysCountTheirArguments() {
        var encoder = RESPCommandEncoder()
        let none: String? = nil
        encoder.encode("DEL", ["a", "b"], none, Optional("c"))
        #expect(String(buffer: encoder.finish().joined) == "*4\r\n$3\r\nDEL\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n")
    }

    @Test func integersEncodeAtTheirExtremes() {
        var encoder = RESPCommandEncoder()
        encoder.encode(Int.min, Int.max, 0)
        #expect(
            String(buffer: encoder.finish().joined)
                == "*3\r\n$20\r\n-9223372036854775808\r\n$19\r\n9223372036854775807\r\n$1\r\n0\r\n"
        )
    }

    @Test func largeByteBuffersAreNotCopied() {
        let payload = ByteBuffer(repeating: UInt8(ascii: "x"), count: 4096)
        var encoder = RESPCommandEncoder()
        encoder.encode("PUBLISH", "ch", payload)
        let request = encoder.finish()
        #expect(request.parts.count == 3)
        let sameStorage = request.parts[1].withUnsafeReadableBytes { encoded in
            payload.withUnsafeReadableBytes { original in encoded.baseAddress == original.baseAddress }
        }
        #expect(sameStorage)
        var expected = ByteBuffer(string: "*3\r\n$7\r\nPUBLISH\r\n$2\r\nch\r\n$4096\r\n")
        expected.writeImmutableBuffer(payload)
        expected.writeString("\r\n")
        #expect(request.joined == expected)
    }

    @Test func smallByteBuffersAreCopiedIntoOneBuffer() {
        var encoder = RESPCommandEncoder()
        encoder.encode("SET", "k", ByteBuffer(string: "v"))
        encoder.encode("GET", "k")
        let request = encoder.finish()
        #expect(request.parts.count == 1)
        #expect(String(buffer: request.joined) == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
    }

    @Test func aCommandWrittenWithOneReservationIsTheSameBytes() {
        var expected = RESPCommandEncoder()
        expected.encode("XADD", "stream:{a}", "*", "f", ByteBuffer(string: "v"), "", ByteBuffer())
        var encoder = RESPCommandEncoder(capacity: 1)
        let sizes = ["XADD", "stream:{a}", "*", "f", "v", "", ""].map { RESPCommandEncoder.bulkSize($0.utf8.count) }
        encoder.encodeCommand(argumentCount: 7, argumentBytes: sizes.reduce(0, +)) { writer in
            writer.writeBulk("XADD")
            writer.writeBulk("stream:{a}")
            writer.writeBulk("*")
            writer.writeBulk("f")
            writer.writeBulk(ByteBuffer(string: "v"))
            writer.writeBulk("")
            writer.writeBulk(ByteBuffer())
        }
        #expect(encoder.finish().joined == expected.finish().joined)
    }

    @Test func encodedCommandsDecodeBack() throws {
        var encoder = RESPCommandEncoder()
        encoder.encode("XADD", "s", "*", "f", ByteBuffer(repeating: 1, count: 2000))
        let values = try decodeAll(Array(encoder.finish().joined.readableBytesView))
        #expect(values.count == 1)
        #expect(values.first?.elements?.count == 5)
        #expect(values.first?.elements?.last?.bytes?.readableBytes == 2000)
    }
}
