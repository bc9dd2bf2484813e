import Foundation
import NIOCore

/// What one subscribed connection saw, read on its event loop.
struct ClientResult: Sendable {
    var latencies: [Double] = []
    var received = 0
    var duplicates = 0
    var gaps = 0
}

/// The window whose events are counted: due times from `from` (after the warm-up) up to `until`.
struct MeasureWindow: Sendable {
    var from = Double.infinity
    var until = Double.infinity
}

/// A WebSocket client small enough not to be the bottleneck of the measurement: it speaks the
/// upgrade and the frame format itself, handles each frame inline on its event loop, and reads
/// only what it measures from the event frame: `sequence_number` (order, duplicates, gaps) and
/// the publisher's due time, which the publisher puts in the envelope's metadata as `due`.
/// It hands its result to `finished` when the connection closes.
final class FanoutClientHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let path: String
    private let subscribeFrame: String
    private let window: @Sendable () -> MeasureWindow
    private let onSubscribed: @Sendable () -> Void
    private let finished: @Sendable (ClientResult) -> Void
    private var upgraded = false
    private var pending = ByteBuffer()
    private var lastSequence: Int64 = 0
    private var result = ClientResult()

    init(
        path: String, pattern: String, expected: Int, window: @escaping @Sendable () -> MeasureWindow,
        onSubscribed: @escaping @Sendable () -> Void, finished: @escaping @Sendable (ClientResult) -> Void
    ) {
        self.path = path
        subscribeFrame = #"{"type":"subscribe","patterns":["\#(pattern)"]}"#
        self.window = window
        self.onSubscribed = onSubscribed
        self.finished = finished
        result.latencies.reserveCapacity(expected)
    }

    func channelActive(context: ChannelHandlerContext) {
        let key = Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n\r\n"
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: request)), promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        finished(result)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        pending.writeBuffer(&incoming)
        if !upgraded {
            let view = pending.readableBytesView
            guard let end = view.firstRange(of: [13, 10, 13, 10]) else { return }
            let head = String(decoding: view[view.startIndex..<end.lowerBound], as: UTF8.self)
            guard head.hasPrefix("HTTP/1.1 101") else {
                say("upgrade refused: \(head.prefix(80))")
                context.close(promise: nil)
                return
            }
            pending.moveReaderIndex(forwardBy: end.upperBound - view.startIndex)
            upgraded = true
            send(opcode: 0x1, Array(subscribeFrame.utf8), context: context)
        }
        while let (opcode, payload) = nextFrame() {
            switch opcode {
            case 0x1: handle(payload)
            case 0x9: send(opcode: 0xA, Array(payload.readableBytesView), context: context)
            case 0x8: context.close(promise: nil)
            default: break
            }
        }
        pending.discardReadBytes()
    }

    /// One whole server frame (unmasked, unfragmented: every Switchyard frame is one JSON text).
    private func nextFrame() -> (UInt8, ByteBuffer)? {
        guard pending.readableBytes >= 2, let first = pending.getInteger(at: pending.readerIndex, as: UInt8.self),
              let second = pending.getInteger(at: pending.readerIndex + 1, as: UInt8.self) else { return nil }
        var header = 2
        var length = Int(second & 0x7F)
        if length == 126 {
            guard let extended = pending.getInteger(at: pending.readerIndex + 2, as: UInt16.self) else { return nil }
            length = Int(extended)
            header = 4
        } else if length == 127 {
            guard let extended = pending.getInteger(at: pending.readerIndex + 2, as: UInt64.self) else { return nil }
            length = Int(extended)
            header = 10
        }
        guard pending.readableBytes >= header + length else { return nil }
        pending.moveReaderIndex(forwardBy: header)
        let payload = pending.readSlice(length: length)!
        return (first & 0x0F, payload)
    }

    private func handle(_ payload: ByteBuffer) {
        payload.withUnsafeReadableBytes { bytes in
            guard bytes.starts(with: Self.eventPrefix) else {
                if Self.offset(of: Self.subscribedMarker, in: bytes) != nil { onSubscribed() }
                return
            }
            guard let sequence = Self.number(after: Self.sequenceMarker, in: bytes).flatMap({ Int64(exactly: $0) }) else { return }
            if sequence <= lastSequence {
                result.duplicates += 1
                return
            }
            if lastSequence != 0 && sequence > lastSequence + 1 { result.gaps += 1 }
            lastSequence = sequence
            guard let due = Self.number(after: Self.dueMarker, in: bytes) else { return }
            let window = window()
            guard due >= window.from, due < window.until else { return }
            result.latencies.append(monotonicNow() - due)
            result.received += 1
        }
    }

    private func send(opcode: UInt8, _ bytes: [UInt8], context: ChannelHandlerContext) {
        var frame = context.channel.allocator.buffer(capacity: bytes.count + 14)
        frame.writeInteger(0x80 | opcode)
        if bytes.count < 126 {
            frame.writeInteger(0x80 | UInt8(bytes.count))
        } else {
            frame.writeInteger(UInt8(0x80 | 126))
            frame.writeInteger(UInt16(bytes.count))
        }
        let mask = (0..<4).map { _ in UInt8.random(in: 0...255) }
        frame.writeBytes(mask)
        frame.writeBytes(bytes.enumerated().map { $0.element ^ mask[$0.offset % 4] })
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }

    static let eventPrefix = Array(#"{"type":"event""#.utf8)
    static let subscribedMarker = Array(#""type":"subscribed""#.utf8)
    static let sequenceMarker = Array(#""sequence_number":"#.utf8)
    static let dueMarker = Array(#""due":"#.utf8)

    /// Where `marker` starts in `bytes`.
    static func offset(of marker: [UInt8], in bytes: UnsafeRawBufferPointer) -> Int? {
        guard marker.count <= bytes.count else { return nil }
        var index = 0
        while index + marker.count <= bytes.count {
            if bytes[index] == marker[0] {
                var matched = 1
                while matched < marker.count && bytes[index + matched] == marker[matched] { matched += 1 }
                if matched == marker.count { return index }
            }
            index += 1
        }
        return nil
    }

    /// The JSON number right after `marker`.
    static func number(after marker: [UInt8], in bytes: UnsafeRawBufferPointer) -> Double? {
        guard let found = offset(of: marker, in: bytes) else { return nil }
        var end = found + marker.count
        let start = end
        while end < bytes.count, Self.numberBytes.contains(bytes[end]) { end += 1 }
        return Double(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self))
    }

    static let numberBytes = Set(Array("0123456789+-.eE".utf8))
}
