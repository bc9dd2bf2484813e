import Hummingbird
import JSONSchema
import NIOCore
import Switchyard

extension Gateway {
    /// The `{channel}` path parameter as a channel name.
    /// - Throws: `invalid_channel` (400) when it is not a valid name.
    func channelParameter(_ context: GatewayRequestContext) throws(SwitchyardError) -> ChannelName {
        try ChannelName(context.parameters.get("channel") ?? "")
    }

    /// Reads the body, refusing it with `payload_too_large` (413) as soon as it passes `limit`
    /// bytes: a `Content-Length` above the limit is refused before anything is read.
    func collect(_ request: Request, limit: Int) async throws -> ByteBuffer {
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit {
            throw Self.tooLarge(length, limit: limit)
        }
        do {
            return try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw Self.tooLarge(nil, limit: limit)
        }
    }

    private static func tooLarge(_ size: Int?, limit: Int) -> SwitchyardError {
        var details: JSONObject = ["max_request_bytes": .int(Int64(limit))]
        if let size { details["size_bytes"] = .int(Int64(size)) }
        return SwitchyardError(.payloadTooLarge, "the request body is larger than the \(limit) bytes this route accepts", details: details)
    }

    /// Parses a JSON body.
    /// - Throws: `malformed_json` (400).
    func parseJSON(_ body: ByteBuffer) throws(SwitchyardError) -> JSONValue {
        do {
            return try JSONValue(parsing: body.readableBytesView)
        } catch {
            throw SwitchyardError(.malformedJSON, "the request body is not valid JSON: \(error)")
        }
    }

    /// A query parameter that must be present.
    func requiredParameter(_ request: Request, _ name: String) throws(SwitchyardError) -> String {
        guard let value = request.uri.queryParameters.get(name), !value.isEmpty else {
            throw SwitchyardError(.badRequest, "the query parameter '\(name)' is required", details: ["parameter": .string(name)])
        }
        return value
    }

    /// A non-negative integer query parameter, `fallback` when absent, at most `maximum`.
    func intParameter(_ request: Request, _ name: String, fallback: Int, maximum: Int) throws(SwitchyardError) -> Int {
        guard let text = request.uri.queryParameters.get(name) else { return fallback }
        guard let value = Int(text), value >= 0 else {
            throw SwitchyardError(.badRequest, "the query parameter '\(name)' must be a non-negative integer", details: ["parameter": .string(name)])
        }
        return min(value, maximum)
    }

    /// A replay bound: a sequence number (digits) or an RFC 3339 time.
    /// - Throws: `bad_request` (400) for anything else.
    func boundParameter(_ request: Request, _ name: String) throws(SwitchyardError) -> ReplayBound? {
        guard let text = request.uri.queryParameters.get(name), !text.isEmpty else { return nil }
        if let number = Int64(text), number >= 0 { return .sequence(number) }
        if let time = Timestamp(rfc3339: text) { return .time(time) }
        throw SwitchyardError(
            .badRequest, "the query parameter '\(name)' must be a sequence number or an RFC 3339 time",
            details: ["parameter": .string(name)])
    }
}
