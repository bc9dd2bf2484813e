import Hummingbird
import NIOCore
import Switchyard

/// Decides who a request comes from: the gateway calls it once per HTTP request and once per
/// WebSocket upgrade, before any route runs.
public protocol Authenticator: Sendable {
    /// The principal of a request.
    /// - Parameters:
    ///   - request: The request (its `Authorization` header, `X-API-Key`, or the `token` query
    ///     parameter of a WebSocket upgrade).
    ///   - remoteAddress: The peer's address, when the transport has one.
    /// - Throws: ``SwitchyardError`` with code `unauthorized` when credentials are missing,
    ///   malformed, expired or wrongly signed.
    func principal(for request: Request, remoteAddress: SocketAddress?) async throws(SwitchyardError) -> Principal
}

/// Lets nobody in: every request is refused with `unauthorized`. The default of a
/// ``GatewayConfiguration``, so that a gateway built without choosing an authenticator is closed.
public struct ClosedAuthenticator: Authenticator {
    /// Creates the authenticator.
    public init() {}

    public func principal(for request: Request, remoteAddress: SocketAddress?) async throws(SwitchyardError) -> Principal {
        throw SwitchyardError(.unauthorized, "this gateway lets nobody in: configure API keys, JWT keys or anonymous access (docs/auth.md)")
    }
}

/// Lets every request in with the same grants: for tests and single-user embedded use. Choose it
/// explicitly: it gives every caller, local or not, what `grants` allow.
public struct OpenAuthenticator: Authenticator {
    /// The principal every request gets.
    public let principal: Principal

    /// Creates an authenticator that grants `grants` to everyone, as `subject`.
    public init(subject: String = "anonymous", grants: Grants = .all) {
        principal = Principal(subject: subject, grants: grants)
    }

    public func principal(for request: Request, remoteAddress: SocketAddress?) async throws(SwitchyardError) -> Principal {
        principal
    }
}

extension SwitchyardError.Code {
    /// The request carries no valid credentials (HTTP 401).
    public static let unauthorized = SwitchyardError.Code("unauthorized")
    /// The credentials are valid but do not grant this channel or action (HTTP 403).
    public static let forbidden = SwitchyardError.Code("forbidden")
}
