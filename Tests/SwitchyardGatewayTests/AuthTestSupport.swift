import Foundation
import HTTPTypes
import Hummingbird
import Crypto
import JWTKit
import NIOCore
import Switchyard
import SwitchyardGateway

/// Keys and tokens for the auth tests: an HS256 secret (kid `hs`), an ES256 key pair (kid `ec`),
/// an API key `risk-service`.
enum TestAuth {
    static let secret = "test-secret-0123456789abcdef-0123456789"
    static let ecKey = ES256PrivateKey()
    static let apiKey = "sy_risk_2f9c61d0a7"

    static func configuration(anonymous: AuthConfiguration.Anonymous = .init()) -> AuthConfiguration {
        AuthConfiguration(
            jwtKeys: [
                .init(.hs256(secret: secret), kid: "hs"),
                .init(.es256(publicKeyPEM: ecKey.publicKey.pemRepresentation), kid: "ec"),
            ],
            apiKeys: [
                .init(name: "risk-service", key: apiKey, grants: Grants(publish: [try! ChannelPattern("trades:*")], subscribe: [try! ChannelPattern("trades:*")]))
            ],
            anonymous: anonymous)
    }

    static func authenticator(anonymous: AuthConfiguration.Anonymous = .init()) async throws -> GatewayAuthenticator {
        try await GatewayAuthenticator(configuration: configuration(anonymous: anonymous))
    }

    struct Claims: JWTPayload {
        var sub: String?
        var iss: String?
        var aud: [String]?
        var exp: Double?
        var nbf: Double?
        var iat: Double?
        var grants: [String: [String]]?
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    static func claims(_ sub: String = "dashboard", publish: [String] = [], subscribe: [String] = [], expiresIn: Double? = 3600, notBefore: Double? = nil) -> Claims {
        let now = Date().timeIntervalSince1970
        return Claims(sub: sub, exp: expiresIn.map { now + $0 }, nbf: notBefore.map { now + $0 }, iat: now, grants: ["publish": publish, "subscribe": subscribe])
    }

    /// ``claims(_:publish:subscribe:expiresIn:notBefore:)`` with an `iss` and an `aud`.
    static func claims(_ sub: String = "dashboard", issuer: String?, audience: [String]?, subscribe: [String] = ["*"]) -> Claims {
        var claims = claims(sub, subscribe: subscribe)
        claims.iss = issuer
        claims.aud = audience
        return claims
    }

    /// An HS256 token signed with `secret`, naming `kid`.
    static func hs256(_ claims: Claims, secret: String = secret, kid: String? = "hs") async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        return try await keys.sign(claims, kid: kid.map { JWKIdentifier(string: $0) })
    }

    /// An ES256 token signed with `key`, naming `kid`.
    static func es256(_ claims: Claims, key: ES256PrivateKey = ecKey, kid: String? = "ec") async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(ecdsa: key)
        return try await keys.sign(claims, kid: kid.map { JWKIdentifier(string: $0) })
    }

    /// An HS256 token over the claims given as JSON text, signed with ``secret``, kid `hs`.
    static func hs256Raw(_ claimsJSON: String) async throws -> String {
        func encode(_ data: Data) -> String {
            data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        }
        let signingInput = encode(Data(#"{"alg":"HS256","typ":"JWT","kid":"hs"}"#.utf8)) + "." + encode(Data(claimsJSON.utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: Data(signingInput.utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return signingInput + "." + encode(Data(mac))
    }

    /// An unsigned token (`alg: none`).
    static func unsigned(_ claims: Claims) throws -> String {
        func encode(_ data: Data) -> String {
            data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        }
        return encode(Data(#"{"alg":"none","typ":"JWT","kid":"hs"}"#.utf8)) + "." + encode(try JSONEncoder().encode(claims)) + "."
    }

    static func bearer(_ token: String) -> HTTPFields { [.authorization: "Bearer \(token)"] }

    /// A bare request to `path` with these headers.
    static func request(_ path: String = "/v1/channels", headers: HTTPFields = [:]) -> Request {
        Request(head: HTTPRequest(method: .get, scheme: "http", authority: "localhost", path: path, headerFields: headers), body: .init(buffer: ByteBuffer()))
    }
}
