import Switchyard

/// Who may reach the gateway: JWT verification keys, static API keys, and anonymous access.
///
/// An empty configuration lets nobody in. ``embeddedDefault`` (what `switchyard serve` uses when
/// no auth is configured) lets loopback clients in without credentials to read every channel,
/// and to publish nothing.
public struct AuthConfiguration: Sendable {
    /// A key that verifies JWT bearer tokens.
    public struct JWTKey: Sendable {
        /// The key material, which fixes the algorithm.
        public enum Material: Sendable {
            /// HMAC with SHA-256 and this shared secret (`HS256`).
            case hs256(secret: String)
            /// ECDSA P-256 with SHA-256, verified with this public key in PEM (`ES256`).
            case es256(publicKeyPEM: String)
        }

        /// The key material.
        public var material: Material
        /// The key id a token's `kid` header names; `nil` for the key used by tokens without `kid`.
        public var kid: String?

        /// Creates a key.
        public init(_ material: Material, kid: String? = nil) {
            self.material = material
            self.kid = kid
        }

        /// The JWS `alg` this key verifies: `HS256` or `ES256`.
        public var algorithm: String {
            switch material {
            case .hs256: "HS256"
            case .es256: "ES256"
            }
        }
    }

    /// A static API key, sent as `Authorization: Bearer <key>` or `X-API-Key: <key>`.
    public struct APIKey: Sendable {
        /// The key's name: the principal's subject and the envelope `source` of what it publishes.
        public var name: String
        /// The secret itself.
        public var key: String
        /// What the key may do.
        public var grants: Grants

        /// Creates an API key.
        public init(name: String, key: String, grants: Grants) {
            self.name = name
            self.key = key
            self.grants = grants
        }
    }

    /// Access without credentials.
    public struct Anonymous: Sendable {
        /// Whether requests without credentials are let in.
        public var enabled: Bool
        /// Whether only loopback clients (127.0.0.0/8, ::1, Unix sockets) are let in without credentials.
        /// A request that a proxy forwarded (it carries `Forwarded`, `X-Forwarded-For` or
        /// `X-Real-IP`) is not a loopback client, whatever its TCP peer.
        public var loopbackOnly: Bool
        /// What anonymous clients may do; none by default.
        public var grants: Grants

        /// Creates anonymous access settings; default disabled, and without grants.
        public init(enabled: Bool = false, loopbackOnly: Bool = true, grants: Grants = .none) {
            self.enabled = enabled
            self.loopbackOnly = loopbackOnly
            self.grants = grants
        }
    }

    /// Keys that verify JWT bearer tokens.
    public var jwtKeys: [JWTKey]
    /// Static API keys.
    public var apiKeys: [APIKey]
    /// Access without credentials.
    public var anonymous: Anonymous
    /// The `iss` every JWT must carry; `nil` (the default) does not check it.
    public var issuer: String?
    /// The audience every JWT's `aud` (a string or an array of strings) must name; `nil` (the
    /// default) does not check it.
    public var audience: String?

    /// Creates an auth configuration; by default nobody gets in.
    public init(
        jwtKeys: [JWTKey] = [], apiKeys: [APIKey] = [], anonymous: Anonymous = Anonymous(), issuer: String? = nil, audience: String? = nil
    ) {
        self.jwtKeys = jwtKeys
        self.apiKeys = apiKeys
        self.anonymous = anonymous
        self.issuer = issuer
        self.audience = audience
    }

    /// Read-only grants: every channel to read, none to publish.
    public static let readOnly = Grants(publish: [], subscribe: [.everything])

    /// No keys; loopback clients may read every channel without credentials and publish nothing,
    /// everyone else gets 401.
    public static let embeddedDefault = AuthConfiguration(anonymous: Anonymous(enabled: true, loopbackOnly: true, grants: readOnly))
}
