import Hummingbird
import JSONSchema
import Switchyard

extension Gateway {
    /// `GET /v1/alerts`: the alerts firing now, then those resolved recently; `?state=firing` or
    /// `?state=resolved` keeps one kind. Needs a subscribe grant on the alert channel.
    func alerts(_ monitor: AlertMonitor, _ request: Request, _ context: GatewayRequestContext) throws -> Response {
        try context.requirePrincipal().requireRead(monitor.configuration.channel)
        let state = request.uri.queryParameters.get("state")
        guard state == nil || state == "firing" || state == "resolved" else {
            throw SwitchyardError.validation(missing: [], invalid: [("state", "must be firing or resolved")], message: "Invalid request")
        }
        let alerts = monitor.alerts().filter { alert in
            switch state {
            case "firing": !alert.isResolved
            case "resolved": alert.isResolved
            default: true
            }
        }
        return jsonResponse([
            "channel": .string(monitor.configuration.channel.rawValue),
            "alerts": .array(alerts.map { Self.report($0, service: monitor.configuration.service) }),
        ])
    }

    /// One alert as `/v1/alerts` lists it: its `system:error_alert` payload with `state`,
    /// `fired_at` and `resolved_at` beside it.
    static func report(_ alert: Alert, service: String) -> JSONValue {
        guard case .object(var object) = alert.payload(service: service) else { return .null }
        object["state"] = .string(alert.isResolved ? "resolved" : "firing")
        object["subject"] = .string(alert.subject)
        object["fired_at"] = .string(alert.firedAt.description)
        object["resolved_at"] = alert.resolvedAt.map { .string($0.description) } ?? .null
        return .object(object)
    }
}
