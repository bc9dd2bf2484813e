import Foundation
import NIOCore

/// What one subscribed connection saw, counted on its event loop.
public struct WebSocketClientResult: Sendable {
    /// Latency of each event whose due time fell in the measured window, in seconds.
    public var latencies: [Double] = []
    /// The due time of each entry of ``latencies``, in the same order, when the client was made
    /// to keep them (a client in a process of its own, which learns the window only at the end); else empty.
    public var dueTimes: [Double] = []
    /// Distinct events received (a sequence number above the last one of its channel).
    public var received = 0
    /// Of those, the ones whose due time fell in the measured window.
    public var receivedInWindow = 0
    /// Events at or below the last sequence number already seen on their channel.
    public var duplicates = 0
    /// Jumps of more than one in a channel's sequence numbers.
    public var gaps = 0
    /// Whether the server confirmed the subscription.
    public var subscribed = false
    /// The close code the server sent, if it sent one.
    public var closeCode: UInt16?
}

/// The window whose events' latencies count: due times from `from` (after the warm-up) up to `until`.
public struct MeasureWindow: Sendable {
    /// The first due time that counts.
    public var from: Double
    /// The first due time that no longer counts.
    public var until: Double

    /// A window; the default counts nothing until the bounds are set.
    public init(from: Double = .infinity, until: Double = .infinity) {
        self.from = from
        self.until = until
    }
}

/// A `/v1/ws` client small enough not to be the bottleneck of a measurement: it speaks the
/// upgrade and the frame format itself on raw NIO, handles each frame inline on its event loop,
/// and reads only what it measures from an event frame: the envelope's `channel` and
/// `sequence_number` (order, duplicates, gaps) and the publisher's due time, which the publisher
/// puts in the envelope's metadata as `due` (``monotonicNow()`` seconds).
///
/// It hands its result to `finished` when the connection closes.
public final class WebSocketLoadClient: ChannelInboundHandler {
    /// Bytes from the server.
    public typealias InboundIn = ByteBuffer
    /// Bytes to the server.
    public typealias OutboundOut = ByteBuffer

    private let path: String
    private let host: String
    private let authorization: String?
    private let subscribeFrame: String
    private let window: @Sendable () -> MeasureWindow
    private let onSubscribed: @Sendable () -> Void
    private let onEvent: @Sendable () -> Void
    private let finished: @Sendable (WebSocketClientResult) -> Void
    private let keepsDueTimes: Bool
    private var upgraded = false
    private var pending = ByteBuffer()
    private var lastSequence: [String: Int64] = [:]
    private var result = WebSocketClientResult()

    /// A client that subscribes to `patterns` on `path` once upgraded.
    /// - Parameters:
    ///   - path: The WebSocket route, `/v1/ws`.
    ///   - host: The `Host` header.
    ///   - authorization: An `Authorization` header value (`Bearer …`), or `nil`.
    ///   - patterns: The patterns of the `subscribe` frame.
    ///   - expected: How many latency samples to make room for.
    ///   - window: The measured window, read on every event.
    ///   - onSubscribed: Called when the `subscribed` frame arrives.
    ///   - onEvent: Called for every distinct event.
    ///   - finished: Called with the result when the connection closes.
    ///   - keepsDueTimes: Whether to keep each latency's due time in ``WebSocketClientResult/dueTimes``.
    public init(
        path: String, host: String = "127.0.0.1", authorization: String? = nil, patterns: [String], expected: Int,
        window: @escaping @Sendable () -> MeasureWindow, onSubscribed: @escaping @Sendable () -> Void = {},
        onEvent: @escaping @Sendable () -> Void = {}, finished: @escaping @Sendable (WebSocketClientResult) -> Void,
        keepsDueTimes: Bool = false
    ) {
        self.path = path
        self.host = host
        self.authorization = authorization
        let list = patterns.map { "\"\($0)\"" }.joined(separator: ",")
        subscribeFrame = #"{"type":"subscribe","patterns":[\#(list)]}"#
        self.window = window
        self.onSubscribed = onSubscribed
        self.onEvent = onEvent
        self.finished = finished
        self.keepsDueTimes = keepsDueTimes
        result.latencies.reserveCapacity(expected)
        if keepsDueTimes { result.dueTimes.reserveCapacity(expected) }
    }

    /// Sends the upgrade request.
    public func channelActive(context: ChannelHandlerContext) {
        let key = Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        var request = "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n"
        if let authorization { request += "Authorization: \(authorization)\r\n" }
        request += "\r\n"
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: request)), promise: nil)
    }

    /// Hands the result to `finished`.
    public func channelInactive(context: ChannelHandlerContext) {
        finished(result)
        context.fireChannelInactive()
    }

    /// Reads the upgrade answer, then every frame: events are counted, pings answered, a close closes.
    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        pending.writeBuffer(&incoming)
        if !upgraded {
            let view = pending.readableBytesView
            guard let end = view.firstRange(of: [13, 10, 13, 10]) else { return }
            let head = String(decoding: view[view.startIndex..<end.lowerBound], as: UTF8.self)
            guard head.hasPrefix("HTTP/1.1 101") else {
                FileHandle.standardError.write(Data("WebSocket upgrade refused: \(head.prefix(80))\n".utf8))
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
            case 0x8:
                result.closeCode = payload.getInteger(at: payload.readerIndex, as: UInt16.self)
                context.close(promise: nil)
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
                if !result.subscribed, Self.offset(of: Self.subscribedMarker, in: bytes) != nil {
                    result.subscribed = true
                    onSubscribed()
                }
                return
            }
            guard let sequence = Self.number(after: Self.sequenceMarker, in: bytes).flatMap({ Int64(exactly: $0) }) else { return }
            let channel = Self.string(after: Self.channelMarker, in: bytes) ?? ""
            let last = lastSequence[channel] ?? 0
            if sequence <= last {
                result.duplicates += 1
                return
            }
            if last != 0 && sequence > last + 1 { result.gaps += 1 }
            lastSequence[channel] = sequence
            result.received += 1
            onEvent()
            guard let due = Self.number(after: Self.dueMarker, in: bytes) else { return }
            let window = window()
            guard due >= window.from, due < window.until else { return }
            result.latencies.append(monotonicNow() - due)
            if keepsDueTimes { result.dueTimes.append(due) }
            result.receivedInWindow += 1
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
    static let channelMarker = Array(#""channel":""#.utf8)
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
        while end < bytes.count, numberBytes.contains(bytes[end]) { end += 1 }
        return Double(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self))
    }

    /// The JSON string (without escapes: channel names have none) right after `marker`.
    static func string(after marker: [UInt8], in bytes: UnsafeRawBufferPointer) -> String? {
        guard let found = offset(of: marker, in: bytes) else { return nil }
        let start = found + marker.count
        var end = start
        while end < bytes.count, bytes[end] != UInt8(ascii: "\"") { end += 1 }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
    }

    static let numberBytes = Set(Array("0123456789+-.eE".utf8))
}
