import HTTPTypes
import Hummingbird
import NIOCore
import Switchyard

/// The gateway's ``Authenticator``: JWT bearer tokens, static API keys, and anonymous access,
/// as an ``AuthConfiguration`` sets them up.
///
/// A request's credential is the first of `Authorization: Bearer …`, `X-API-Key: …` and the
/// `token` query parameter. A bearer credential that equals a configured API key (compared in
/// constant time) is that key; anything else is verified as a JWT. A request without a credential
/// is anonymous when anonymous access is enabled (and, with `loopbackOnly`, comes from a loopback
/// address and was not forwarded by a proxy); otherwise it is refused with `unauthorized`. A JWT
/// whose `sub` is `anonymous` is refused: that subject is reserved for requests without
/// credentials. Credentials are never logged.
public struct GatewayAuthenticator: Authenticator {
    private let tokens: TokenVerifier
    private let apiKeys: [AuthConfiguration.APIKey]
    private let anonymous: AuthConfiguration.Anonymous

    /// Loads the keys of a configuration.
    /// - Throws: ``GatewayConfigurationError`` when a key cannot be loaded, an HS256 secret is
    ///   shorter than 32 bytes, an API key is empty, or two keys share a kid or a name.
    public init(configuration: AuthConfiguration) async throws(GatewayConfigurationError) {
        tokens = try await TokenVerifier(keys: configuration.jwtKeys, issuer: configuration.issuer, audience: configuration.audience)
        for (index, key) in configuration.apiKeys.enumerated() {
            guard !key.key.isEmpty else { throw GatewayConfigurationError(key: "auth.api_keys[\(index)].key", "must not be empty") }
            guard !key.name.isEmpty else { throw GatewayConfigurationError(key: "auth.api_keys[\(index)].name", "must not be empty") }
            guard key.name != Principal.anonymousSubject else {
                throw GatewayConfigurationError(key: "auth.api_keys[\(index)].name", "'anonymous' is reserved for requests without credentials")
            }
            if configuration.apiKeys[..<index].contains(where: { $0.name == key.name }) {
                throw GatewayConfigurationError(key: "auth.api_keys[\(index)].name", "the name '\(key.name)' is used twice")
            }
        }
        apiKeys = configuration.apiKeys
        anonymous = configuration.anonymous
    }

    public func principal(for request: Request, remoteAddress: SocketAddress?) async throws(SwitchyardError) -> Principal {
        switch try Credential.from(request) {
        case .apiKey(let value)?:
            guard let key = apiKey(matching: value) else { throw SwitchyardError(.unauthorized, "the API key is not known") }
            return Principal(subject: key.name, grants: key.grants)
        case .bearer(let value)?:
            if let key = apiKey(matching: value) { return Principal(subject: key.name, grants: key.grants) }
            guard !tokens.isEmpty else { throw SwitchyardError(.unauthorized, "the bearer credential is not a known API key") }
            return try await tokens.principal(for: value)
        case nil:
            guard anonymous.enabled else {
                throw SwitchyardError(.unauthorized, "credentials are required: send Authorization: Bearer <token or API key>, X-API-Key, or ?token=")
            }
            guard !anonymous.loopbackOnly || (Self.isLoopback(remoteAddress) && !Self.wasForwarded(request)) else {
                throw SwitchyardError(.unauthorized, "credentials are required from non-loopback clients: send Authorization: Bearer <token or API key>, X-API-Key, or ?token=")
            }
            return Principal(subject: Principal.anonymousSubject, grants: anonymous.grants)
        }
    }

    /// The API key equal to `value`; every key is compared, in constant time each.
    private func apiKey(matching value: String) -> AuthConfiguration.APIKey? {
        var found: AuthConfiguration.APIKey?
        for key in apiKeys where constantTimeEquals(key.key.utf8, value.utf8) && found == nil {
            found = key
        }
        return found
    }

    /// Whether a proxy forwarded the request: it names the client in `Forwarded`,
    /// `X-Forwarded-For` or `X-Real-IP`. A reverse proxy on the gateway's own host connects from
    /// loopback for every client it forwards, so such a request is never taken as a loopback client.
    static func wasForwarded(_ request: Request) -> Bool {
        forwardingHeaders.contains { request.headers[$0] != nil }
    }

    private static let forwardingHeaders: [HTTPField.Name] = [
        HTTPField.Name("Forwarded")!, HTTPField.Name("X-Forwarded-For")!, HTTPField.Name("X-Real-IP")!,
    ]

    /// Whether an address is loopback: 127.0.0.0/8, `::1`, `::ffff:127.x.x.x`, or a Unix socket.
    static func isLoopback(_ address: SocketAddress?) -> Bool {
        switch address {
        case .unixDomainSocket?: return true
        case .v4?, .v6?:
            guard let ip = address?.ipAddress else { return false }
            return ip.hasPrefix("127.") || ip == "::1" || ip.hasPrefix("::ffff:127.")
        default: return false
        }
    }
}

extension Principal {
    /// The subject of requests let in without credentials.
    public static let anonymousSubject = "anonymous"

    /// Whether this is an anonymous principal; its publishes carry the gateway's own `source`.
    public var isAnonymous: Bool { subject == Self.anonymousSubject }
}
