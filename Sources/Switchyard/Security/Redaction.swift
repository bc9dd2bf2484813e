/// The one place Switchyard hides secrets before text reaches a log, an error or a metric.
///
/// It masks, with `***`:
/// - the password of a URL's user info (`redis://user:***@host`, `postgres://user:***@host/db`),
///   and the whole user info when it is a single token (`https://***@host`);
/// - the values of secret query parameters (`?token=***`, `password`, `api_key`, …; see
///   ``secretParameters``), in URLs and in bare `name=value` text;
/// - credentials after `Bearer`, `Basic` and `Authorization:`/`X-API-Key:` headers.
///
/// Everything else is kept, so a redacted URL still says which host and database it names.
public enum Redaction {
    /// What a secret is replaced with.
    public static let mask = "***"

    /// Query parameter and `name=value` names whose values are secrets (compared case-insensitively).
    public static let secretParameters: Set<String> = [
        "token", "access_token", "id_token", "refresh_token", "password", "passwd", "pass", "secret",
        "api_key", "apikey", "key", "sig", "signature", "sslpassword", "auth", "sentinel_password",
    ]

    /// A URL with its password and secret query parameters masked; text that is not a URL comes back unchanged.
    public static func url(_ text: String) -> String {
        guard let schemeEnd = text.range(of: "://") else { return maskParameters(text) }
        let scheme = text[..<schemeEnd.upperBound]
        let rest = text[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        var authority = String(rest[..<authorityEnd])
        if let at = authority.lastIndex(of: "@") {
            let userInfo = authority[..<at]
            let host = authority[authority.index(after: at)...]
            if let colon = userInfo.firstIndex(of: ":") {
                authority = "\(userInfo[..<colon]):\(mask)@\(host)"
            } else {
                authority = "\(mask)@\(host)"
            }
        }
        return String(scheme) + authority + maskParameters(String(rest[authorityEnd...]))
    }

    /// Free text (a log message, an error description) with every URL in it passed through
    /// ``url(_:)``, every secret `name=value` masked, and bearer and basic credentials masked.
    public static func text(_ text: String) -> String {
        var result = text.replacing(/[A-Za-z][A-Za-z0-9+.\-]*:\/\/[^\s"'<>]+/) { match in url(String(match.output)) }
        result = maskParameters(result)
        result = result.replacing(/(?i)\b(authorization|x-api-key|proxy-authorization)(\s*[:=]\s*)(bearer\s+|basic\s+)?[^\s,;"']+/) { match in
            "\(match.output.1)\(match.output.2)\(match.output.3 ?? "")\(mask)"
        }
        result = result.replacing(/(?i)\b(bearer|basic)\s+(?!\*\*\*)[A-Za-z0-9\-._~+\/=]+/) { match in "\(match.output.1) \(mask)" }
        return result
    }

    /// The value of an HTTP header as it may be logged: `Authorization`, `Proxy-Authorization`,
    /// `Cookie` and `X-API-Key` values are masked whole; other values pass through ``text(_:)``.
    public static func header(name: String, value: String) -> String {
        switch name.lowercased() {
        case "authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key": mask
        default: text(value)
        }
    }

    /// `name=value` pairs whose name is in ``secretParameters``, with the value masked.
    static func maskParameters(_ text: String) -> String {
        text.replacing(/(^|[?&;,\s"'])([A-Za-z_\-]+)=([^&#\s"',;]*)/) { match in
            let name = String(match.output.2)
            guard secretParameters.contains(name.lowercased()) else { return String(match.output.0) }
            return "\(match.output.1)\(name)=\(mask)"
        }
    }
}
