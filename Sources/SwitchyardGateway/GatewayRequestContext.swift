import Hummingbird
import HummingbirdWebSocket
import NIOCore

/// The request context of every gateway route: the peer's address, the authenticated
/// ``Principal``, and the WebSocket upgrade handle.
public struct GatewayRequestContext: RequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<Self>
    /// The peer's address, when the transport has one.
    public let remoteAddress: SocketAddress?
    /// Who sent the request; set by the authentication middleware before any route runs.
    public var principal: Principal?
    /// The connection; a WebSocket session writes its frames to it after the upgrade.
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        webSocket = .init()
        remoteAddress = source.channel.remoteAddress
        channel = source.channel
        principal = nil
    }
}
