import Hummingbird
import Switchyard

/// Sets ``GatewayRequestContext/principal`` from the configured ``Authenticator`` before any
/// route runs; a refusal is answered with its structured error (401). `/healthz`, `/readyz` and
/// `/metrics` are open to everyone, so probes and scrapers need no credentials, and so are the
/// console's files (`/` and `/console/…`) and the browser client (`/v1/client.js`), which hold no
/// data: the page sends the token itself.
struct AuthenticationMiddleware: RouterMiddleware {
    let authenticator: any Authenticator

    /// Paths answered without authentication.
    static let openPaths: Set<String> = ["/healthz", "/readyz", "/metrics", "/", "/v1/client.js"]
    /// Path prefixes answered without authentication.
    static let openPrefixes = ["/console/"]

    func handle(
        _ request: Request, context: GatewayRequestContext,
        next: (Request, GatewayRequestContext) async throws -> Response
    ) async throws -> Response {
        let path = request.uri.path
        if Self.openPaths.contains(path) || Self.openPrefixes.contains(where: { path.hasPrefix($0) }) {
            return try await next(request, context)
        }
        var context = context
        context.principal = try await authenticator.principal(for: request, remoteAddress: context.remoteAddress)
        return try await next(request, context)
    }
}
