import Foundation
import JSONSchema
import JWTKit
import Switchyard

/// Verifies JWT bearer tokens (`HS256` or `ES256`) and turns their claims into a ``Principal``.
///
/// Claims: `sub` (required, the subject, at most 256 bytes), `exp` (required, seconds since the epoch), `nbf` and
/// `iat` (optional), and `grants: {"publish": [patterns], "subscribe": [patterns]}` (optional;
/// missing lists grant nothing). `exp` and `nbf` allow ``leeway`` of clock skew. The header's
/// `alg` must be `HS256` or `ES256` and match the key its `kid` names (or the key without a
/// `kid` when the token has none); `alg: none` is always refused. With an issuer configured the
/// token's `iss` must equal it, and with an audience configured its `aud` (a string or an array)
/// must name it. The subject `anonymous` is reserved for requests without credentials and refused.
struct TokenVerifier: Sendable {
    /// Clock skew allowed on `exp` and `nbf`.
    static let leeway: Double = 30

    private struct Key: Sendable {
        let kid: String?
        let algorithm: String
        let collection: JWTKeyCollection
    }

    private let keys: [Key]
    /// The `iss` a token must carry; `nil` checks none.
    let issuer: String?
    /// The audience a token's `aud` must name; `nil` checks none.
    let audience: String?

    var isEmpty: Bool { keys.isEmpty }

    /// Loads the keys.
    /// - Throws: ``GatewayConfigurationError`` when an HS256 secret is shorter than 32 bytes, an
    ///   ES256 public key is not a P-256 public key in PEM, or two keys share a `kid`.
    init(keys configured: [AuthConfiguration.JWTKey], issuer: String? = nil, audience: String? = nil) async throws(GatewayConfigurationError) {
        if let issuer, issuer.isEmpty { throw GatewayConfigurationError(key: "auth.issuer", "must not be empty") }
        if let audience, audience.isEmpty { throw GatewayConfigurationError(key: "auth.audience", "must not be empty") }
        self.issuer = issuer
        self.audience = audience
        var keys: [Key] = []
        for (index, key) in configured.enumerated() {
            if keys.contains(where: { $0.kid == key.kid }) {
                throw GatewayConfigurationError(key: "auth.jwt_keys[\(index)].kid", key.kid.map { "the kid '\($0)' is used twice" } ?? "only one key may leave out kid")
            }
            let collection = JWTKeyCollection()
            switch key.material {
            case .hs256(let secret):
                guard secret.utf8.count >= 32 else {
                    throw GatewayConfigurationError(key: "auth.jwt_keys[\(index)].secret", "must be at least 32 bytes (the size of an HS256 hash)")
                }
                await collection.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
            case .es256(let pem):
                do {
                    await collection.add(ecdsa: try ES256PublicKey(pem: pem))
                } catch {
                    throw GatewayConfigurationError(key: "auth.jwt_keys[\(index)].public_key_pem", "is not a P-256 public key in PEM")
                }
            }
            keys.append(Key(kid: key.kid, algorithm: key.algorithm, collection: collection))
        }
        self.keys = keys
    }

    /// The principal a token stands for.
    /// - Throws: `unauthorized` naming what is wrong (never echoing the token).
    func principal(for token: String, now: Date = Date()) async throws(SwitchyardError) -> Principal {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerBytes = Self.base64URLDecoded(parts[0]),
              case .object(let header)? = try? JSONValue(parsing: headerBytes)
        else {
            throw SwitchyardError(.unauthorized, "the bearer credential is neither a known API key nor a well-formed JWT")
        }
        guard case .string(let algorithm)? = header["alg"] else {
            throw SwitchyardError(.unauthorized, "the token's header has no alg")
        }
        guard algorithm.lowercased() != "none" else {
            throw SwitchyardError(.unauthorized, "unsigned tokens (alg 'none') are refused")
        }
        guard algorithm == "HS256" || algorithm == "ES256" else {
            throw SwitchyardError(.unauthorized, "the token's alg '\(algorithm.prefix(16))' is not supported; use HS256 or ES256")
        }
        let kid: String?
        switch header["kid"] {
        case nil, .null?: kid = nil
        case .string(let value)?: kid = value
        default: throw SwitchyardError(.unauthorized, "the token's kid must be a string")
        }
        guard let key = keys.first(where: { $0.kid == kid }) else {
            throw SwitchyardError(.unauthorized, kid.map { "the token's kid '\($0.prefix(64))' names no configured key" } ?? "the token has no kid and no key without kid is configured")
        }
        guard key.algorithm == algorithm else {
            throw SwitchyardError(.unauthorized, "the token's alg \(algorithm) does not match its key's \(key.algorithm)")
        }
        let claims: TokenClaims
        do {
            claims = try await key.collection.verify(token, as: TokenClaims.self)
        } catch let error as JWTError where error.errorType == .signatureVerificationFailed {
            throw SwitchyardError(.unauthorized, "the token's signature does not verify")
        } catch {
            throw SwitchyardError(.unauthorized, "the token's claims are malformed (sub, iss, aud, exp, nbf, iat and grants have fixed types)")
        }
        return try claims.principal(now: now.timeIntervalSince1970, issuer: issuer, audience: audience)
    }

    static func base64URLDecoded(_ text: Substring) -> [UInt8]? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64.append("=") }
        return Data(base64Encoded: base64).map { Array($0) }
    }
}

/// The claims of a Switchyard token.
struct TokenClaims: JWTPayload {
    /// The longest `sub`: it becomes the envelope `source` and part of rate-limit keys.
    static let maximumSubjectBytes = 256

    struct GrantClaims: Codable, Sendable {
        var publish: [String]?
        var subscribe: [String]?
    }

    /// `aud`: one audience, or several.
    enum Audience: Codable, Sendable {
        case one(String)
        case many([String])

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let one = try? container.decode(String.self) { self = .one(one) } else { self = .many(try container.decode([String].self)) }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .one(let value): try container.encode(value)
            case .many(let values): try container.encode(values)
            }
        }

        func names(_ audience: String) -> Bool {
            switch self {
            case .one(let value): value == audience
            case .many(let values): values.contains(audience)
            }
        }
    }

    var sub: String?
    var iss: String?
    var aud: Audience?
    var exp: Double?
    var nbf: Double?
    var iat: Double?
    var grants: GrantClaims?

    /// Claims are checked in ``principal(now:)``, with messages of their own.
    func verify(using algorithm: some JWTAlgorithm) async throws {}

    func principal(now: Double, issuer: String? = nil, audience: String? = nil) throws(SwitchyardError) -> Principal {
        guard let sub, !sub.isEmpty else { throw SwitchyardError(.unauthorized, "the token has no sub claim") }
        guard sub != Principal.anonymousSubject else {
            throw SwitchyardError(.unauthorized, "the token's sub 'anonymous' is reserved for requests without credentials")
        }
        guard sub.utf8.count <= Self.maximumSubjectBytes else {
            throw SwitchyardError(.unauthorized, "the token's sub is longer than \(Self.maximumSubjectBytes) bytes")
        }
        guard let exp else { throw SwitchyardError(.unauthorized, "the token has no exp claim; tokens must expire") }
        guard now <= exp + TokenVerifier.leeway else { throw SwitchyardError(.unauthorized, "the token has expired") }
        if let nbf, now + TokenVerifier.leeway < nbf { throw SwitchyardError(.unauthorized, "the token is not valid yet (nbf is in the future)") }
        if let issuer, iss != issuer { throw SwitchyardError(.unauthorized, "the token's iss is not the issuer this gateway trusts") }
        if let audience, aud?.names(audience) != true {
            throw SwitchyardError(.unauthorized, "the token's aud does not name this gateway's audience")
        }
        var grants = Grants.none
        for pattern in self.grants?.publish ?? [] { grants.publish.append(try Self.pattern(pattern)) }
        for pattern in self.grants?.subscribe ?? [] { grants.subscribe.append(try Self.pattern(pattern)) }
        return Principal(subject: sub, grants: grants)
    }

    private static func pattern(_ text: String) throws(SwitchyardError) -> ChannelPattern {
        do { return try ChannelPattern(text) } catch {
            throw SwitchyardError(.unauthorized, "the token's grants hold an invalid channel pattern")
        }
    }
}
