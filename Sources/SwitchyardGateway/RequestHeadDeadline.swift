import HummingbirdCore
import Logging
import NIOCore

/// Closes a connection that has not sent a whole first request head (the request line and
/// headers, up to the blank line) within a deadline.
///
/// Hummingbird's idle timeout starts only once a first request head has been read, so without
/// this a client that connects and sends nothing, or sends a header a byte at a time, holds its
/// connection for ever (slowloris). The check looks at the raw bytes for the first `CRLF CRLF`
/// after the request line has begun (empty lines before it, which HTTP parsers skip, do not
/// count) and then leaves the pipeline; from there on the idle timeout applies. Each close is counted in
/// `switchyard_gateway_refused_total{reason="request_head_timeout"}`.
struct RequestHeadDeadlineChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value

    /// The HTTP (and WebSocket) channel the deadline guards.
    let base: Base
    /// How long a new connection has to send its first request head.
    let timeout: TimeAmount
    let refusals: GatewayRefusals

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(RequestHeadDeadline(timeout: timeout, refusals: refusals))
        }.flatMap { base.setup(channel: channel, logger: logger) }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// `builder`'s channels, each closed when it has not sent a whole first request head within
    /// `timeout` (see ``RequestHeadDeadlineChannel``).
    static func requestHeadDeadline<Base: ServerChildChannel>(
        _ timeout: TimeAmount, refusals: GatewayRefusals, _ build: @escaping @Sendable (@escaping HTTPChannelHandler.Responder) throws -> Base
    ) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in RequestHeadDeadlineChannel(base: try build(responder), timeout: timeout, refusals: refusals) }
    }
}

/// The handler of ``RequestHeadDeadlineChannel``: first in the pipeline after TLS, reading bytes.
final class RequestHeadDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let timeout: TimeAmount
    private let refusals: GatewayRefusals
    private var deadline: Scheduled<Void>?
    /// How many bytes of `\r\n\r\n` the bytes read so far end with.
    private var matched = 0
    /// Whether a byte other than CR or LF has come: HTTP parsers skip empty lines before the
    /// request line, so a `\r\n\r\n` before it ends no head.
    private var started = false

    init(timeout: TimeAmount, refusals: GatewayRefusals) {
        self.timeout = timeout
        self.refusals = refusals
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { schedule(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        schedule(context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let complete = buffer.readableBytesView.contains { byte in
            guard started || byte == 13 || byte == 10 else {
                started = true
                return false
            }
            guard started else { return false }
            matched = Self.advance(matched, byte)
            return matched == 4
        }
        context.fireChannelRead(data)
        if complete {
            deadline?.cancel()
            deadline = nil
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }

    /// The progress through `\r\n\r\n` after `byte`.
    static func advance(_ matched: Int, _ byte: UInt8) -> Int {
        let expected: UInt8 = matched % 2 == 0 ? 13 : 10
        if byte == expected { return matched + 1 }
        return byte == 13 ? 1 : 0
    }

    private func schedule(_ context: ChannelHandlerContext) {
        guard deadline == nil else { return }
        let refusals = refusals
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [context] in
            refusals.count("request_head_timeout")
            context.close(promise: nil)
        }
    }
}
