import JSONSchema

/// The envelope every event travels in, with exactly the wire names of DESIGN.md.
///
/// ```json
/// {"event_id":"0193a2c4-7b1e-7c3a-9f1e-3b2d1c0a9e8f","channel":"trades:order_filled","topic":"trades:order_filled",
///  "sequence_number":42,"timestamp":"2026-01-27T10:30:05.123Z","event_time":"2026-01-27T10:30:05Z",
///  "source":"trade_executor","schema":"trades:order_filled@1","data":{…},"metadata":{"user_id":"user_0001"}}
/// ```
/// It encodes its members in that order, always; `event_time` only when the publisher gave one.
/// `topic` repeats `channel`, so that a consumer written against REC.IO's message shape
/// (`{"topic","timestamp","data","metadata"}`, see ``TopicMessage``) finds every member it reads.
/// Decoding ignores members it does not know.
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
    /// The publisher's own time for the event, as it sent it (a whole message's `timestamp`);
    /// `nil` when it gave none. ``timestamp`` is when Switchyard stored it.
    public var eventTime: String?

    /// The channel, under the name REC.IO's message shape gives it.
    public var topic: String { channel.rawValue }

    /// Creates an envelope.
    public init(
        eventID: EventID, channel: ChannelName, sequenceNumber: Int64, timestamp: Timestamp,
        source: String, schema: String, data: JSONValue, metadata: JSONObject = [:], eventTime: String? = nil
    ) {
        self.eventID = eventID
        self.channel = channel
        self.sequenceNumber = sequenceNumber
        self.timestamp = timestamp
        self.source = source
        self.schema = schema
        self.data = data
        self.metadata = metadata
        self.eventTime = eventTime
    }

    /// The envelope as a JSON value, members in wire order.
    public var jsonValue: JSONValue {
        var members: [(key: String, value: JSONValue)] = [
            ("event_id", .string(eventID.description)),
            ("channel", .string(channel.rawValue)),
            ("topic", .string(channel.rawValue)),
            ("sequence_number", .int(sequenceNumber)),
            ("timestamp", .string(timestamp.description)),
        ]
        if let eventTime { members.append(("event_time", .string(eventTime))) }
        members += [("source", .string(source)), ("schema", .string(schema)), ("data", data), ("metadata", .object(metadata))]
        return .object(JSONObject(members))
    }

    /// The envelope's compact JSON text, as stored in `stream:{CHANNEL}` and published on `CHANNEL`.
    public func encoded() -> String {
        var bytes: [UInt8] = []
        write(into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the envelope's compact JSON text to `bytes`, members in wire order.
    public func write(into bytes: inout [UInt8]) {
        bytes.reserveCapacity(bytes.count + 256)
        Self.writePrefix(eventID: eventID, channel: channel, into: &bytes)
        bytes.append(contentsOf: String(sequenceNumber).utf8)
        bytes.append(contentsOf: #","timestamp":""#.utf8)
        bytes.append(contentsOf: timestamp.description.utf8)
        bytes.append(UInt8(ascii: "\""))
        Self.writeSuffix(eventTime: eventTime, source: source, schema: schema, data: data, metadata: metadata, into: &bytes)
    }

    /// Appends the members before the sequence number's value: `{"event_id":…,"channel":…,"topic":…,"sequence_number":`.
    public static func writePrefix(eventID: EventID, channel: ChannelName, into bytes: inout [UInt8]) {
        bytes.append(contentsOf: #"{"event_id":""#.utf8)
        bytes.append(contentsOf: eventID.description.utf8)
        bytes.append(contentsOf: #"","channel":"#.utf8)
        let name = JSONValue.string(channel.rawValue)
        name.write(into: &bytes)
        bytes.append(contentsOf: #","topic":"#.utf8)
        name.write(into: &bytes)
        bytes.append(contentsOf: #","sequence_number":"#.utf8)
    }

    /// Appends the members after the timestamp, to the closing brace:
    /// `,"event_time":…` (when given) `,"source":…,"schema":…,"data":…,"metadata":…}`.
    public static func writeSuffix(
        eventTime: String?, source: String, schema: String, data: JSONValue, metadata: JSONObject, into bytes: inout [UInt8]
    ) {
        if let eventTime {
            bytes.append(contentsOf: #","event_time":"#.utf8)
            JSONValue.string(eventTime).write(into: &bytes)
        }
        bytes.append(contentsOf: #","source":"#.utf8)
        JSONValue.string(source).write(into: &bytes)
        bytes.append(contentsOf: #","schema":"#.utf8)
        JSONValue.string(schema).write(into: &bytes)
        bytes.append(contentsOf: #","data":"#.utf8)
        data.write(into: &bytes)
        bytes.append(contentsOf: #","metadata":"#.utf8)
        JSONValue.object(metadata).write(into: &bytes)
        bytes.append(UInt8(ascii: "}"))
    }

    /// Reads an envelope from its JSON value, ignoring members it does not know.
    /// - Throws: ``SwitchyardError`` (`validation_error`, message "Invalid envelope") naming every
    ///   missing and invalid member.
    public init(json: JSONValue) throws(SwitchyardError) {
        guard case .object(let object) = json else {
            throw SwitchyardError.validation(missing: [], invalid: [("$", "an envelope must be a JSON object")], message: "Invalid envelope")
        }
        var reader = EnvelopeReader(object)
        let eventID = reader.read("event_id", "must be a UUID") { $0.stringValue.flatMap(EventID.init) }
        let channel = reader.read("channel", "must be a channel name") { $0.stringValue.flatMap { try? ChannelName($0) } }
        // Below Int64.max, so that the next number (`sequence_number + 1`) always exists.
        let sequence = reader.read("sequence_number", "must be an integer from 1 to \(Int64.max - 1)") { value -> Int64? in
            if case .int(let number) = value, number >= 1, number < .max { number } else { nil }
        }
        let timestamp = reader.read("timestamp", "must be an RFC 3339 date-time") { $0.stringValue.flatMap { Timestamp(rfc3339: $0) } }
        let source = reader.read("source", "must be a string") { $0.stringValue }
        let schema = reader.read("schema", "must be a string") { $0.stringValue }
        let data = reader.read("data", "must be present") { $0 }
        let eventTime = reader.read("event_time", "must be a string", optional: true) { $0.stringValue }
        let metadata = reader.read("metadata", "must be an object", optional: true) { value -> JSONObject? in
            switch value {
            case .null: [:]
            case .object(let object): object
            default: nil
            }
        }
        guard let eventID, let channel, let sequence, let timestamp, let source, let schema, let data, reader.isClean else {
            throw SwitchyardError.validation(missing: reader.missing, invalid: reader.invalid, message: "Invalid envelope")
        }
        self.init(
            eventID: eventID, channel: channel, sequenceNumber: sequence, timestamp: timestamp,
            source: source, schema: schema, data: data, metadata: metadata ?? [:], eventTime: eventTime)
    }

    /// Reads an envelope from its UTF-8 JSON bytes, as stored in a stream entry or a pub/sub message.
    /// - Throws: ``SwitchyardError`` (`malformed_json`, or `validation_error` with the message "Invalid envelope").
    public init(decoding bytes: some Collection<UInt8>) throws(SwitchyardError) {
        if let written = bytes.withContiguousStorageIfAvailable({ Self.decodeWritten($0) }) ?? nil {
            self = written
            return
        }
        let value: JSONValue
        do { value = try JSONValue(parsing: bytes) } catch {
            throw SwitchyardError(.malformedJSON, "the envelope is not valid JSON: \(error)")
        }
        try self.init(json: value)
    }

    /// Reads an envelope from its JSON text.
    /// - Throws: ``SwitchyardError`` (`malformed_json`, or `validation_error` with the message "Invalid envelope").
    public init(decoding text: String) throws(SwitchyardError) {
        if let written = text.utf8.withContiguousStorageIfAvailable({ Self.decodeWritten($0) }) ?? nil {
            self = written
            return
        }
        let value: JSONValue
        do { value = try JSONValue(parsing: text) } catch {
            throw SwitchyardError(.malformedJSON, "the envelope is not valid JSON: \(error)")
        }
        try self.init(json: value)
    }
}

/// Reads envelope members, collecting every missing and invalid one.
private struct EnvelopeReader {
    let object: JSONObject
    var missing: [String] = []
    var invalid: [(field: String, reason: String)] = []

    init(_ object: JSONObject) { self.object = object }

    var isClean: Bool { missing.isEmpty && invalid.isEmpty }

    mutating func read<T>(_ name: String, _ reason: String, optional: Bool = false, _ convert: (JSONValue) -> T?) -> T? {
        guard let value = object[name] else {
            if !optional { missing.append(name) }
            return nil
        }
        guard let converted = convert(value) else {
            invalid.append((name, reason))
            return nil
        }
        return converted
    }
}
