import Hummingbird
import Switchyard

/// Sets ``GatewayRequestContext/principal`` from the configured ``Authenticator`` before any
/// route runs; a refusal is answered with its structured error (401).
struct AuthenticationMiddleware: RouterMiddleware {
    let authenticator: any Authenticator

    func handle(
        _ request: Request, context: GatewayRequestContext,
        next: (Request, GatewayRequestContext) async throws -> Response
    ) async throws -> Response {
        var context = context
        context.principal = try await authenticator.principal(for: request, remoteAddress: context.remoteAddress)
        return try await next(request, context)
    }
}
