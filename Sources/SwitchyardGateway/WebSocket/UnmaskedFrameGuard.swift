import NIOCore
import NIOHTTP1
import NIOWebSocket

/// Closes a `/v1/ws` connection with 1002 (protocol error) when the client sends a frame without
/// a mask, as RFC 6455 5.1 requires of a server.
///
/// The WebSocket library unmasks frames before the session reads them, so the check runs in the
/// channel pipeline: ``install(on:)`` adds a watcher while the upgrade request is answered, and
/// when the upgrade completes, before the first frame is decoded, the watcher puts the check right
/// behind the frame decoder and leaves.
enum UnmaskedFrameGuard {
    /// Adds the watcher to an upgrading connection, unless it has one already; returns once it is
    /// in place.
    static func install(on channel: any Channel) async throws {
        try await channel.eventLoop.submit {
            let pipeline = channel.pipeline.syncOperations
            guard (try? pipeline.handler(type: UpgradeWatcher.self)) == nil else { return }
            try pipeline.addHandler(UpgradeWatcher(), position: .last)
        }.get()
    }

    /// Waits for the upgrade's completion event, then installs ``MaskCheck`` behind the frame decoder.
    final class UpgradeWatcher: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = ByteBuffer

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case .upgradeComplete? = event as? HTTPServerUpgradeEvents {
                let pipeline = context.pipeline.syncOperations
                do {
                    let decoder = try pipeline.context(handlerType: ByteToMessageHandler<WebSocketFrameDecoder>.self)
                    try pipeline.addHandler(MaskCheck(), position: .after(decoder.handler))
                } catch {
                    // Without the check the connection would accept unmasked frames: end it instead.
                    context.close(promise: nil)
                }
                pipeline.removeHandler(context: context, promise: nil)
            }
            context.fireUserInboundEventTriggered(event)
        }
    }

    /// Passes masked frames on; at the first unmasked one, sends a close frame with 1002 and
    /// closes the connection, passing nothing more on.
    final class MaskCheck: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = WebSocketFrame
        typealias OutboundOut = WebSocketFrame

        private var failed = false

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard !failed else { return }
            guard unwrapInboundIn(data).maskKey != nil else {
                failed = true
                let reason = "client frames must be masked"
                var body = context.channel.allocator.buffer(capacity: 2 + reason.utf8.count)
                body.write(webSocketErrorCode: .protocolError)
                body.writeString(reason)
                context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: body)), promise: nil)
                context.close(promise: nil)
                return
            }
            context.fireChannelRead(data)
        }
    }
}
