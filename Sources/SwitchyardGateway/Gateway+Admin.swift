import Foundation
import Hummingbird
import JSONSchema
import Switchyard

extension Gateway {
    /// `GET /v1/dlq/{channel}?limit=…`: the channel's dead letters, oldest first; needs a subscribe grant.
    func deadLetters(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let channel = try channelParameter(context)
        try principal.requireRead(channel)
        let limit = try intParameter(request, "limit", fallback: 1000, maximum: configuration.maxReplayLimit)
        return jsonResponse(try await RouterReports(router: router).deadLetters(channel, limit: limit))
    }

    /// `POST /v1/dlq/{channel}` with `{"action":"requeue"|"drop","ids":[…]}`; needs a publish grant.
    func actOnDeadLetters(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let channel = try channelParameter(context)
        try requirePublish(principal, channel, attempted: "dead_letters")
        let document = try parseJSON(try await collect(request, limit: 1 << 20))
        var missing: [String] = []
        var invalid: [(field: String, reason: String)] = []
        let action = document["action"]?.stringValue
        if document["action"] == nil { missing.append("action") } else if action != "requeue" && action != "drop" {
            invalid.append(("action", "must be \"requeue\" or \"drop\""))
        }
        var ids: [StreamPosition] = []
        if let values = document["ids"] {
            if let array = values.arrayValue, array.allSatisfy({ $0.stringValue != nil }) {
                ids = array.compactMap(\.stringValue).map(StreamPosition.init)
            } else {
                invalid.append(("ids", "must be an array of dead-letter ids"))
            }
        } else {
            missing.append("ids")
        }
        guard missing.isEmpty, invalid.isEmpty else { throw SwitchyardError.validation(missing: missing, invalid: invalid, message: "Invalid request") }
        return jsonResponse(try await RouterReports(router: router).actOnDeadLetters(channel, action: action ?? "", ids: ids, by: principal.subject))
    }

    /// `GET /v1/contracts`: every contract with its schema and policy.
    func contracts() -> Response {
        jsonResponse([
            "contracts": .array(router.contracts.contracts.map { contract in
                [
                    "id": .string(contract.id), "channel": .string(contract.channel.rawValue),
                    "version": .int(Int64(contract.version)), "description": .string(contract.description),
                    "policy": AsyncAPIDocument.policy(contract), "schema": contract.schema,
                ]
            })
        ])
    }

    /// `GET /readyz`: 200 when the engine reports itself reachable (the Redis engine: a `PING`
    /// within 2 seconds), else 503 with `engine_unavailable`.
    func readiness() async -> Response {
        if let refusal = await publisher.readiness() { return refusal.response() }
        let health = await router.health()
        guard health.reachable else {
            let message = health.engine == "redis" ? "Redis does not answer PING" : "the \(health.engine) engine does not answer"
            return SwitchyardError(.engineUnavailable, message, details: ["engine": .string(health.engine)]).response()
        }
        return jsonResponse(["status": "ready", "engine": .string(health.engine)])
    }
}

/// The OpenAPI 3.1 document of the HTTP API, kept in `Resources/openapi.json`.
enum OpenAPIDocument {
    /// The document's bytes, read once.
    static let bytes: [UInt8]? = Bundle.module.url(forResource: "openapi", withExtension: "json")
        .flatMap { try? Data(contentsOf: $0) }.map { Array($0) }

    static func response() throws -> Response {
        guard let bytes else { throw SwitchyardError(.internalError, "the OpenAPI document is missing from the bundle") }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
