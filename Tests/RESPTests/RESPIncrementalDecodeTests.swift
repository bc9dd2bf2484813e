import NIOCore
import Testing

@testable import RESP

/// Values that arrive in many small reads, as from a slow or hostile server: the decoder goes on
/// from where it stopped, so each value is parsed once and its bytes are scanned about once.
@Suite struct RESPIncrementalDecodeTests {
    /// Feeds `bytes` to one decoder `chunk` bytes at a time, as a channel handler would.
    static func feed(_ bytes: [UInt8], chunk: Int, into decoder: inout RESPValueDecoder) throws -> [RESPValue] {
        var buffer = ByteBuffer()
        var values: [RESPValue] = []
        var start = 0
        while start < bytes.count {
            buffer.writeBytes(bytes[start..<min(bytes.count, start + chunk)])
            start += chunk
            while let value = try decoder.decode(buffer: &buffer) { values.append(value) }
            buffer.discardReadBytes()
        }
        return values
    }

    @Test func aLargeBulkStringInSmallReadsIsParsedOnce() throws {
        let payload = [UInt8](repeating: UInt8(ascii: "x"), count: 1 << 20)
        let frame = Array("$\(payload.count)\r\n".utf8) + payload + Array("\r\n".utf8)
        var decoder = RESPValueDecoder()
        let values = try Self.feed(frame, chunk: 100, into: &decoder)
        #expect(values == [.blobString(ByteBuffer(bytes: payload))])
        #expect(decoder.parseAttempts == 1)
        #expect(decoder.bytesScanned < 64, "the body is skipped by its length, not scanned: \(decoder.bytesScanned)")
    }

    @Test func aLargeArrayOneByteAtATimeIsScannedOnce() throws {
        let elements = (0..<2_000).map { RESPValue.blobString(ByteBuffer(string: "value-\($0)")) }
        let frame = Array(RESPValue.array(elements + [.integer(42), .simpleString("OK")]).encoded.readableBytesView)
        var decoder = RESPValueDecoder()
        let values = try Self.feed(frame, chunk: 1, into: &decoder)
        #expect(values == [.array(elements + [.integer(42), .simpleString("OK")])])
        #expect(decoder.parseAttempts == 1)
        #expect(decoder.bytesScanned <= 2 * frame.count, "scanned \(decoder.bytesScanned) bytes of a \(frame.count)-byte frame")
    }

    @Test func deepNestingAndEveryTypeInSmallReads() throws {
        var value = RESPValue.map([.init(key: .simpleString("k"), value: .set([.boolean(true), .double(1.5), .null]))])
        for _ in 0..<30 { value = .array([value, .blobError(ByteBuffer(string: "E")), .bigNumber("123")]) }
        let frame = Array(value.encoded.readableBytesView)
        for chunk in [1, 2, 7, 64] {
            var decoder = RESPValueDecoder()
            #expect(try Self.feed(frame + frame, chunk: chunk, into: &decoder) == [value, value], "chunk \(chunk)")
            #expect(decoder.parseAttempts == 2)
        }
    }

    @Test func bytesThatAreNotRESPStillFailAfterAPartialRead() throws {
        var decoder = RESPValueDecoder()
        #expect(throws: RESPProtocolError.self) { _ = try Self.feed(Array("*2\r\n:1\r\n?oops\r\n".utf8), chunk: 1, into: &decoder) }
        var tooDeep = RESPValueDecoder(maximumDepth: 2)
        #expect(throws: RESPProtocolError.self) { _ = try Self.feed(Array("*1\r\n*1\r\n*1\r\n:1\r\n".utf8), chunk: 1, into: &tooDeep) }
    }

    @Test func aDecoderGivenAnotherBufferStartsAfresh() throws {
        var decoder = RESPValueDecoder()
        var partial = ByteBuffer(string: "*3\r\n:1\r\n:2\r\n")
        #expect(try decoder.decode(buffer: &partial) == nil)
        var other = ByteBuffer(string: "+OK\r\n")
        #expect(try decoder.decode(buffer: &other) == .simpleString("OK"))
        var longer = ByteBuffer(string: "*1\r\n:1\r\n:2\r\n+x\r\n")
        #expect(try decoder.decode(buffer: &longer) == .array([.integer(1)]))
    }
}
