import JSONSchema

/// An event a group gave up on, kept on the channel's dead-letter stream (`dlq:{CHANNEL}`) with
/// the fields `envelope`, `group`, `error`, `deliveries`, `failed_at`.
public struct DeadLetter: Sendable, Hashable {
    /// The dead letter's own position in the dead-letter stream.
    public let id: StreamPosition
    /// The event.
    public let envelope: Envelope
    /// The group that gave up.
    public let group: String
    /// Why. A handler that kept failing gives seed 000's processing error,
    /// `{"error_type":"processing_error","service","message","original_message","retry_count","details"}`
    /// (see ``processingError(_:service:envelope:deliveries:)``); an event refused before its
    /// handler ran (a signature or sealed field that does not verify) gives that refusal's
    /// `{"error_type","message","details"}` body.
    public let error: JSONValue
    /// How many times the group had been delivered the event.
    public let deliveries: Int
    /// When the group gave up.
    public let failedAt: Timestamp

    /// Creates a dead letter.
    public init(id: StreamPosition, envelope: Envelope, group: String, error: JSONValue, deliveries: Int, failedAt: Timestamp) {
        self.id = id
        self.envelope = envelope
        self.group = group
        self.error = error
        self.deliveries = deliveries
        self.failedAt = failedAt
    }

    /// The fields of the dead-letter stream entry, as the wire format names them.
    public var fields: [(name: String, value: String)] {
        [
            ("envelope", envelope.encoded()), ("group", group), ("error", error.serialized()),
            ("deliveries", String(deliveries)), ("failed_at", failedAt.description),
        ]
    }
}

extension DeadLetter {
    /// Seed 000's processing error for an event a group gave up on:
    /// `{"error_type":"processing_error","service","message","original_message","retry_count","details"}`.
    ///
    /// `service` is the consuming service, `message` the last failure's message, `original_message`
    /// the event as delivered, `retry_count` the deliveries after the first, and `details` the last
    /// failure's whole `{"error_type","message","details"}` body.
    public static func processingError(_ failure: JSONValue, service: String, envelope: Envelope, deliveries: Int) -> JSONValue {
        [
            "error_type": .string(SwitchyardError.Code.processingError.rawValue), "service": .string(service),
            "message": failure["message"] ?? "the handler failed", "original_message": envelope.jsonValue,
            "retry_count": .int(Int64(max(0, deliveries - 1))), "details": failure,
        ]
    }
}

/// A request to move a pending entry to the dead-letter stream and ack it, in one step.
public struct DeadLetterRequest: Sendable {
    /// The group giving up.
    public var group: String
    /// The pending entry.
    public var delivery: Delivery
    /// Why, as a `{"error_type","message","details"}` body.
    public var error: JSONValue
    /// How many times the event was delivered, retries included.
    public var deliveries: Int

    /// Creates a request.
    public init(group: String, delivery: Delivery, error: JSONValue, deliveries: Int) {
        self.group = group
        self.delivery = delivery
        self.error = error
        self.deliveries = deliveries
    }
}
