import JSONSchema

/// A whole message in REC.IO's shape (seed 000): `{"topic", "timestamp", "data", "metadata"}`.
///
/// A publisher may send this whole message where a payload is expected. Switchyard reads it as:
/// `topic` must name the channel it is published to, `data` is the payload checked against the
/// contract, `metadata` becomes the envelope's metadata, and `timestamp`, the publisher's own
/// time, is kept as the envelope's `event_time` next to the `timestamp` Switchyard stores.
///
/// ```json
/// {"topic":"market_data:btc_price","timestamp":"2025-01-27T10:30:00Z",
///  "data":{"symbol":"BTC-USD","price":43250.50},"metadata":{"sequence_id":12345,"version":"1.0"}}
/// ```
/// A document is read as such a message when it is a JSON object with a `topic` member and no
/// member other than the four. Any other document is a bare payload.
public struct TopicMessage: Sendable, Hashable {
    /// The members a message in this shape may have.
    public static let members: Set<String> = ["topic", "timestamp", "data", "metadata"]

    /// The channel the message names.
    public let topic: String
    /// The publisher's time, as it sent it.
    public let timestamp: String
    /// The payload.
    public let data: JSONValue
    /// The message's metadata; empty when it had none.
    public let metadata: JSONObject

    /// The message as a JSON value.
    public var jsonValue: JSONValue {
        ["topic": .string(topic), "timestamp": .string(timestamp), "data": data, "metadata": .object(metadata)]
    }

    /// Whether `object` is a message in this shape rather than a bare payload.
    public static func isTopicMessage(_ object: JSONObject) -> Bool {
        object["topic"] != nil && object.allSatisfy { members.contains($0.key) }
    }

    /// Reads a message published to `channel`.
    ///
    /// Every problem is named at once, in seed 000's `validation_error` shape: a missing
    /// `timestamp` or `data` in `missing_fields`, a `topic` that is not the channel, a `timestamp`
    /// that is not an ISO 8601 date-time, a `data` or `metadata` that is not an object in
    /// `invalid_fields`.
    /// - Throws: ``SwitchyardError`` `validation_error`.
    public init(_ object: JSONObject, channel: ChannelName) throws(SwitchyardError) {
        var missing: [String] = []
        var invalid: [(field: String, reason: String)] = []
        let topic = object["topic"]?.stringValue
        if topic != channel.rawValue {
            invalid.append(("topic", "must be the channel the message is published to, '\(channel)'"))
        }
        var timestamp = ""
        switch object["timestamp"] {
        case nil: missing.append("timestamp")
        case .string(let text)? where Self.eventTime(text) != nil: timestamp = text
        default: invalid.append(("timestamp", "must be an ISO 8601 date-time"))
        }
        var data = JSONValue.null
        switch object["data"] {
        case nil: missing.append("data")
        case .object(let payload)?: data = .object(payload)
        default: invalid.append(("data", "must be a JSON object"))
        }
        var metadata = JSONObject()
        switch object["metadata"] {
        case nil, .null?: break
        case .object(let members)?: metadata = members
        default: invalid.append(("metadata", "must be a JSON object"))
        }
        guard missing.isEmpty, invalid.isEmpty else {
            throw SwitchyardError.validation(missing: missing, invalid: invalid)
        }
        self.topic = channel.rawValue
        self.timestamp = timestamp
        self.data = data
        self.metadata = metadata
    }

    /// The time a publisher's `timestamp` names: an RFC 3339 date-time, or an ISO 8601 one without
    /// offset (Python's `datetime.utcnow().isoformat()`), read as UTC.
    public static func eventTime(_ text: String) -> Timestamp? {
        if let time = Timestamp(rfc3339: text) { return time }
        guard text.count >= 19, text.last.map({ $0.isNumber }) == true else { return nil }
        return Timestamp(rfc3339: text + "Z")
    }
}
