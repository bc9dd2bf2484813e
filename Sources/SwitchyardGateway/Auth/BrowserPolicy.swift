import Foundation
import HTTPTypes
import Hummingbird
import Switchyard

/// What the gateway accepts from browsers, so that a web page on another site cannot use a
/// visitor's browser to reach it.
///
/// Three checks run on every request, before authentication:
/// - **Host**: the `Host` header must name this gateway. IP literals (`127.0.0.1:8080`,
///   `[::1]:8080`, `10.0.0.5`) and loopback names (`localhost`, `*.localhost`) always do; other
///   names only when ``allowedHosts`` lists them. This stops DNS rebinding, where a page's own name
///   is pointed at the gateway's address: its requests carry the page's name as `Host`.
/// - **Origin**: a request that carries `Origin` (browsers send it on every WebSocket handshake and
///   every `POST`) must come from the gateway's own origin (its host and port equal the `Host`
///   header), from a loopback origin (`http://localhost:3000`, `http://127.0.0.1:5173`), or from an
///   origin ``allowedOrigins`` lists. `Origin: null` (sandboxed frames, files) is refused.
///   Requests without `Origin` (curl, services, the Python and Swift clients) pass.
/// - **Content type**: a `POST`, `PUT` or `PATCH` must declare `Content-Type: application/json`
///   (or `application/…+json`), which a page cannot send to another site without a CORS preflight
///   the gateway never grants; HTML forms and `no-cors` fetches send only `text/plain`, form or
///   multipart bodies.
///
/// Refusals are `forbidden` (403) for Host and Origin and `unsupported_media_type` (415) for the
/// content type, and are counted in `switchyard_gateway_refused_total{reason}`.
public struct BrowserPolicy: Sendable, Hashable {
    /// Host names served besides IP literals and loopback names: exact names (`events.example.com`),
    /// or `*.` followed by a domain for its subdomains; `*` serves every name. Default empty.
    public var allowedHosts: [String]
    /// Origins allowed besides the gateway's own and loopback ones, as `scheme://host[:port]`
    /// (`https://app.example.com`); `*` allows every origin. Default empty.
    public var allowedOrigins: [String]

    /// Creates a policy; every parameter has the default documented on its property.
    public init(allowedHosts: [String] = [], allowedOrigins: [String] = []) {
        self.allowedHosts = allowedHosts
        self.allowedOrigins = allowedOrigins
    }

    /// Why a request is refused, or `nil` when it passes.
    /// - Returns: The refusal and the label it is counted under (`host`, `origin`, `content_type`).
    public func refusal(
        method: HTTPRequest.Method, authority: String?, origin: String?, contentType: String?
    ) -> (error: SwitchyardError, reason: String)? {
        if let authority, !servesHost(authority) {
            let host = Self.hostName(of: authority)
            return (
                SwitchyardError(
                    .forbidden, "the Host '\(host.prefix(253))' is not served here: add it to allowed_hosts (--allowed-host)",
                    details: ["host": .string(String(host.prefix(253)))]),
                "host"
            )
        }
        if let origin, !allowsOrigin(origin, authority: authority) {
            return (
                SwitchyardError(
                    .forbidden, "requests from the origin '\(origin.prefix(256))' are not allowed: add it to allowed_origins (--allowed-origin)",
                    details: ["origin": .string(String(origin.prefix(256)))]),
                "origin"
            )
        }
        if Self.writeMethods.contains(method), !Self.isJSON(contentType) {
            return (
                SwitchyardError(
                    .unsupportedMediaType, "a \(method.rawValue) must send Content-Type: application/json",
                    details: ["content_type": contentType.map { .string(String($0.prefix(128))) } ?? .null]),
                "content_type"
            )
        }
        return nil
    }

    static let writeMethods: Set<HTTPRequest.Method> = [.post, .put, .patch]

    /// Whether the `Host` header (`name[:port]`) names this gateway.
    func servesHost(_ authority: String) -> Bool {
        let host = Self.hostName(of: authority).lowercased()
        if Self.isIPLiteral(host) || Self.isLoopbackName(host) { return true }
        return allowedHosts.contains { allowed in
            let allowed = allowed.lowercased()
            if allowed == "*" { return true }
            if allowed.hasPrefix("*.") { return host.hasSuffix(allowed.dropFirst()) }
            return host == allowed
        }
    }

    /// Whether a request with this `Origin` is allowed.
    func allowsOrigin(_ origin: String, authority: String?) -> Bool {
        if allowedOrigins.contains("*") { return true }
        let normalized = origin.lowercased().hasSuffix("/") ? String(origin.lowercased().dropLast()) : origin.lowercased()
        guard let schemeEnd = normalized.range(of: "://") else { return false }
        let scheme = normalized[..<schemeEnd.lowerBound]
        // Browsers send http(s) origins; WebSocket client libraries send ws(s) ones.
        guard ["http", "https", "ws", "wss"].contains(scheme) else { return false }
        let originAuthority = String(normalized[schemeEnd.upperBound...])
        guard !originAuthority.isEmpty, !originAuthority.contains("/"), !originAuthority.contains("@") else { return false }
        if let authority, Self.sameAuthority(originAuthority, authority.lowercased(), scheme: String(scheme)) { return true }
        let host = Self.hostName(of: originAuthority)
        if Self.isLoopbackName(host) || Self.isLoopbackAddress(host) { return true }
        return allowedOrigins.contains { $0.lowercased() == normalized || $0.lowercased() == normalized + "/" }
    }

    /// Whether two authorities are the same, a scheme's default port written out or left out.
    static func sameAuthority(_ origin: String, _ host: String, scheme: String) -> Bool {
        let port = scheme == "https" || scheme == "wss" ? ":443" : ":80"
        func plain(_ text: String) -> String { text.hasSuffix(port) ? String(text.dropLast(port.count)) : text }
        return plain(origin) == plain(host)
    }

    /// The host of `name[:port]` or `[v6][:port]`, brackets kept for IPv6.
    static func hostName(of authority: String) -> String {
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            return String(authority[...close])
        }
        if let colon = authority.lastIndex(of: ":") { return String(authority[..<colon]) }
        return authority
    }

    /// `localhost` and its subdomains, which resolve to loopback only.
    static func isLoopbackName(_ host: String) -> Bool {
        let host = host.lowercased()
        return host == "localhost" || host.hasSuffix(".localhost") || host == "localhost."
    }

    static func isLoopbackAddress(_ host: String) -> Bool {
        host == "[::1]" || (isIPv4(host) && host.hasPrefix("127."))
    }

    /// A dotted IPv4 address or a bracketed IPv6 one: a name DNS rebinding cannot produce.
    static func isIPLiteral(_ host: String) -> Bool {
        if host.hasPrefix("["), host.hasSuffix("]") {
            return host.dropFirst().dropLast().allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }
        }
        return isIPv4(host)
    }

    static func isIPv4(_ host: String) -> Bool {
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { part in
            !part.isEmpty && part.count <= 3 && part.allSatisfy(\.isASCII) && part.allSatisfy(\.isNumber) && Int(part).map { $0 <= 255 } == true
        }
    }

    /// `application/json` or `application/…+json`, parameters allowed.
    static func isJSON(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        let type = contentType.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        return type == "application/json" || (type.hasPrefix("application/") && type.hasSuffix("+json"))
    }
}

extension SwitchyardError.Code {
    /// The request body's `Content-Type` is not one the route takes (HTTP 415).
    public static let unsupportedMediaType = SwitchyardError.Code("unsupported_media_type")
}

/// Applies a ``BrowserPolicy`` to every request before authentication, and counts refusals.
struct BrowserPolicyMiddleware: RouterMiddleware {
    let policy: BrowserPolicy
    let refusals: GatewayRefusals

    func handle(
        _ request: Request, context: GatewayRequestContext,
        next: (Request, GatewayRequestContext) async throws -> Response
    ) async throws -> Response {
        if let refused = policy.refusal(
            method: request.method, authority: request.head.authority, origin: request.headers[.origin],
            contentType: request.headers[.contentType])
        {
            refusals.count(refused.reason)
            throw refused.error
        }
        return try await next(request, context)
    }
}
