import JSONSchema

/// How serious an alert is: REC.IO's levels `info`, `low`, `medium`, `high`, `critical`.
public struct AlertSeverity: Sendable, Hashable, CustomStringConvertible {
    /// The wire value.
    public let rawValue: String

    /// The levels the `system:error_alert` contract allows, least serious first.
    public static let all: [AlertSeverity] = [.info, .low, .medium, .high, .critical]
    /// For information.
    public static let info = AlertSeverity(checked: "info")
    /// Worth a look.
    public static let low = AlertSeverity(checked: "low")
    /// Needs attention soon.
    public static let medium = AlertSeverity(checked: "medium")
    /// Needs attention now.
    public static let high = AlertSeverity(checked: "high")
    /// Data or guarantees are being lost.
    public static let critical = AlertSeverity(checked: "critical")

    private init(checked: String) { rawValue = checked }

    /// The level named `rawValue`, or `nil` when it is not one of ``all``.
    public init?(_ rawValue: String) {
        guard let level = Self.all.first(where: { $0.rawValue == rawValue }) else { return nil }
        self = level
    }

    /// The wire value.
    public var description: String { rawValue }
}

/// One alert raised by a rule: firing from ``firedAt``, resolved at ``resolvedAt`` when its
/// condition stopped holding.
public struct Alert: Sendable, Hashable {
    /// `alert_` and letters and digits; the fired and the resolved message share it.
    public var id: String
    /// The rule's name, the payload's `alert_type` (``AlertConfiguration/RuleName``).
    public var type: String
    /// What the alert is about: a channel label, `CHANNEL GROUP`, a service, or `spool`.
    public var subject: String
    /// How serious it is.
    public var severity: AlertSeverity
    /// What is wrong, for people.
    public var message: String
    /// The figures behind it (the value, the threshold, the window).
    public var details: JSONObject
    /// When the rule first found its condition.
    public var firedAt: Timestamp
    /// When the condition stopped holding; `nil` while firing.
    public var resolvedAt: Timestamp?

    /// Creates an alert.
    public init(
        id: String, type: String, subject: String, severity: AlertSeverity, message: String, details: JSONObject,
        firedAt: Timestamp, resolvedAt: Timestamp? = nil
    ) {
        self.id = id
        self.type = type
        self.subject = subject
        self.severity = severity
        self.message = message
        self.details = details
        self.firedAt = firedAt
        self.resolvedAt = resolvedAt
    }

    /// Whether the condition no longer holds.
    public var isResolved: Bool { resolvedAt != nil }

    /// The alert in REC.IO's `system:error_alert` schema: `service`, `severity`, `alert_type`,
    /// `message`, `alert_id`, `resolved`, `timestamp` (when it fired, or when it resolved), and
    /// `details` with `subject`, `fired_at` (and `resolved_at`) added.
    /// - Parameter service: The `service` field: who raised it.
    public func payload(service: String) -> JSONValue {
        var details = details
        details["subject"] = .string(subject)
        details["fired_at"] = .string(firedAt.description)
        if let resolvedAt { details["resolved_at"] = .string(resolvedAt.description) }
        return [
            "service": .string(service), "severity": .string(severity.rawValue), "alert_type": .string(type),
            "message": .string(String(message.prefix(2048))), "alert_id": .string(id), "resolved": .bool(isResolved),
            "timestamp": .string((resolvedAt ?? firedAt).description), "details": .object(details),
        ]
    }
}
