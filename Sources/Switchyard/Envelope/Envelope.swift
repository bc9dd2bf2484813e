import JSONSchema

/// The envelope every event travels in, with exactly the wire names of DESIGN.md.
///
/// ```json
/// {"event_id":"0193a2c4-7b1e-7c3a-9f1e-3b2d1c0a9e8f","channel":"trades:order_filled","sequence_number":42,
///  "timestamp":"2026-01-27T10:30:05.123Z","source":"trade_executor","schema":"trades:order_filled@1",
///  "data":{…},"metadata":{"user_id":"user_0001"}}
/// ```
/// It encodes its members in that order, always; decoding ignores members it does not know.
public struct Envelope: Sendable, Hashable {
    /// The event's identifier (a UUIDv7 when Switchyard made it); the dedup key.
    public var eventID: EventID
    /// The channel the event was published to.
    public var channel: ChannelName
    /// The event's place in its channel: strictly increasing without gaps, starting at 1.
    public var sequenceNumber: Int64
    /// When the event was accepted.
    public var timestamp: Timestamp
    /// The service that published it.
    public var source: String
    /// The contract and version the payload was checked against, as `CHANNEL_OR_PATTERN@VERSION`.
    public var schema: String
    /// The payload.
    public var data: JSONValue
    /// Trace context, session, user and other context that is not payload.
    public var metadata: JSONObject

    /// Creates an envelope.
    public init(
        eventID: EventID, channel: ChannelName, sequenceNumber: Int64, timestamp: Timestamp,
        source: String, schema: String, data: JSONValue, metadata: JSONObject = [:]
    ) {
        self.eventID = eventID
        self.channel = channel
        self.sequenceNumber = sequenceNumber
        self.timestamp = timestamp
        self.source = source
        self.schema = schema
        self.data = data
        self.metadata = metadata
    }

    /// The envelope as a JSON value, members in wire order.
    public var jsonValue: JSONValue {
        .object([
            "event_id": .string(eventID.description),
            "channel": .string(channel.rawValue),
            "sequence_number": .int(sequenceNumber),
            "timestamp": .string(timestamp.description),
            "source": .string(source),
            "schema": .string(schema),
            "data": data,
            "metadata": .object(metadata),
        ])
    }

    /// The envelope's compact JSON text, as stored in `stream:{CHANNEL}` and published on `CHANNEL`.
    public func encoded() -> String {
        jsonValue.serialized()
    }

    /// Reads an envelope from its JSON value, ignoring members it does not know.
    /// - Throws: ``SwitchyardError`` with code ``SwitchyardError/Code/invalidEnvelope`` naming the member at fault.
    public init(json: JSONValue) throws(SwitchyardError) {
        guard case .object(let object) = json else {
            throw SwitchyardError(.invalidEnvelope, "an envelope must be a JSON object")
        }
        func member(_ name: String) throws(SwitchyardError) -> JSONValue {
            guard let value = object[name] else {
                throw SwitchyardError(.invalidEnvelope, "the envelope has no '\(name)'", details: ["missing_fields": [.string(name)]])
            }
            return value
        }
        func string(_ name: String) throws(SwitchyardError) -> String {
            guard let value = try member(name).stringValue else { throw Self.invalid(name, "must be a string") }
            return value
        }
        guard let eventID = EventID(try string("event_id")) else { throw Self.invalid("event_id", "must be a UUID") }
        let channel: ChannelName
        do { channel = try ChannelName(try string("channel")) } catch { throw Self.invalid("channel", "must be a channel name") }
        guard case .int(let sequence) = try member("sequence_number"), sequence >= 0 else {
            throw Self.invalid("sequence_number", "must be a non-negative integer")
        }
        guard let timestamp = Timestamp(rfc3339: try string("timestamp")) else {
            throw Self.invalid("timestamp", "must be an RFC 3339 date-time")
        }
        let metadata: JSONObject
        switch object["metadata"] {
        case nil, .null?: metadata = [:]
        case .object(let value)?: metadata = value
        default: throw Self.invalid("metadata", "must be an object")
        }
        self.init(
            eventID: eventID, channel: channel, sequenceNumber: sequence, timestamp: timestamp,
            source: try string("source"), schema: object["schema"]?.stringValue ?? "",
            data: try member("data"), metadata: metadata)
    }

    /// Reads an envelope from its JSON text.
    /// - Throws: ``SwitchyardError`` (`malformed_json` or `invalid_envelope`).
    public init(decoding text: String) throws(SwitchyardError) {
        let value: JSONValue
        do { value = try JSONValue(parsing: text) } catch {
            throw SwitchyardError(.malformedJSON, "the envelope is not JSON: \(error)")
        }
        try self.init(json: value)
    }

    private static func invalid(_ field: String, _ reason: String) -> SwitchyardError {
        SwitchyardError(.invalidEnvelope, "the envelope's '\(field)' \(reason)", details: ["invalid_fields": .object([field: .string(reason)])])
    }
}
