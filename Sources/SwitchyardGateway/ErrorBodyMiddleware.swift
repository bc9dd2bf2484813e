import Hummingbird
import JSONSchema
import NIOCore
import Switchyard

extension SwitchyardError.Code {
    /// The route, channel state or resource does not exist (HTTP 404).
    public static let notFound = SwitchyardError.Code("not_found")
    /// The request is not one the route accepts: a bad query parameter or method (HTTP 400).
    public static let badRequest = SwitchyardError.Code("bad_request")
    /// The gateway failed in a way that is not the client's fault (HTTP 500).
    public static let internalError = SwitchyardError.Code("internal_error")
    /// The caller reached a per-connection or per-caller limit: patterns per WebSocket session,
    /// sessions per principal (HTTP 429).
    public static let limitExceeded = SwitchyardError.Code("limit_exceeded")
}

extension SwitchyardError {
    /// The HTTP status this error is answered with.
    public var httpStatus: HTTPResponse.Status {
        switch code {
        case .validationError: .unprocessableContent
        case .rateLimited, .limitExceeded: .tooManyRequests
        case .payloadTooLarge: .contentTooLarge
        case .unknownChannel, .unknownStateKey, .notFound, .groupNotFound: .notFound
        case .malformedJSON, .invalidChannel, .invalidStateKey, .badRequest, .invalidPosition: .badRequest
        case .unauthorized: .unauthorized
        case .forbidden: .forbidden
        case .unsupportedMediaType: .unsupportedMediaType
        case .engineUnavailable: .serviceUnavailable
        case .unsignedEvent, .invalidSignature, .unknownSigningKey, .invalidCiphertext: .badGateway
        default: .internalServerError
        }
    }

    /// The HTTP response: the wire shape as the body, and `Retry-After` (whole seconds, rounded
    /// up) for `rate_limited`.
    func response() -> Response {
        var headers: HTTPFields = [:]
        if let retryAfter {
            let seconds = max(1, Int((Double(retryAfter.components.seconds) + Double(retryAfter.components.attoseconds) / 1e18).rounded(.up)))
            headers[.retryAfter] = String(seconds)
        }
        return jsonResponse(body, status: httpStatus, headers: headers)
    }
}

/// A JSON response.
func jsonResponse(_ value: JSONValue, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
    var bytes: [UInt8] = []
    value.write(into: &bytes)
    var headers = headers
    headers[.contentType] = "application/json"
    return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
}

/// Turns every error into the wire shape `{"error_type","message","details"}` with its status:
/// Switchyard refusals, unknown routes (404), bodies over the limit (413), and anything else (500,
/// without internals).
struct ErrorBodyMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as SwitchyardError {
            return error.response()
        } catch is NIOTooManyBytesError {
            return SwitchyardError(.payloadTooLarge, "the request body is larger than this route accepts").response()
        } catch let error as HTTPError {
            let code: SwitchyardError.Code = switch error.status {
            case .notFound: .notFound
            case .contentTooLarge: .payloadTooLarge
            case .methodNotAllowed, .badRequest: .badRequest
            default: .internalError
            }
            let message = error.status == .notFound ? "no route for \(request.method) \(request.uri.path)" : (error.body ?? error.status.reasonPhrase)
            var response = SwitchyardError(code, message).response()
            response.status = error.status
            return response
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(type(of: error))", "path": "\(request.uri.path)"])
            return SwitchyardError(.internalError, "the gateway failed to handle the request").response()
        }
    }
}
