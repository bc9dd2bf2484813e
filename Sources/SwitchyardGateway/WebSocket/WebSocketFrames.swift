import JSONSchema
import Switchyard

/// A frame a client sends on `/v1/ws`.
enum ClientFrame {
    case subscribe(patterns: [ChannelPattern], resume: [ChannelName: Int64], id: JSONValue?)
    case unsubscribe(patterns: [ChannelPattern], id: JSONValue?)
    case publish(channel: ChannelName, data: JSONValue, metadata: JSONObject, eventID: EventID?, id: JSONValue?)

    /// The most channels one `subscribe` may resume: each is a read of the channel's history.
    static let maxResumeChannels = 1000

    /// The `id` a client may send a frame with, echoed in the reply.
    static func id(in document: JSONValue) -> JSONValue? {
        guard let id = document["id"], id.stringValue != nil || id.isNumber else { return nil }
        return id
    }

    /// Reads a frame from a text message.
    /// - Throws: ``SwitchyardError``: `malformed_json`, `bad_request` (no or unknown `type`),
    ///   `validation_error` (missing or invalid members) or `invalid_channel`.
    init(parsing document: JSONValue) throws(SwitchyardError) {
        guard case .object = document else {
            throw SwitchyardError(.badRequest, "a frame must be a JSON object with a \"type\"")
        }
        let id = Self.id(in: document)
        switch document["type"]?.stringValue {
        case "subscribe":
            let patterns = try Self.patterns(document)
            var resume: [ChannelName: Int64] = [:]
            if let value = document["resume"] {
                guard case .object(let object) = value else { throw Self.invalid("resume", "must be an object of channel to last sequence number seen") }
                guard object.count <= Self.maxResumeChannels else {
                    throw SwitchyardError(
                        .limitExceeded, "a subscribe may resume at most \(Self.maxResumeChannels) channels",
                        details: ["max_resume_channels": .int(Int64(Self.maxResumeChannels)), "resume": .int(Int64(object.count))])
                }
                for (name, number) in object {
                    let channel = try ChannelName(name)
                    guard case .int(let last) = number, last >= 0, last < .max else {
                        throw Self.invalid("resume.\(name)", "must be an integer from 0 to \(Int64.max - 1)")
                    }
                    resume[channel] = last
                }
            }
            self = .subscribe(patterns: patterns, resume: resume, id: id)
        case "unsubscribe":
            self = .unsubscribe(patterns: try Self.patterns(document), id: id)
        case "publish":
            guard let name = document["channel"]?.stringValue else {
                throw document["channel"] == nil ? SwitchyardError.validation(missing: ["channel"], invalid: [], message: "Invalid frame") : Self.invalid("channel", "must be a string")
            }
            let channel = try ChannelName(name)
            guard let data = document["data"] else { throw SwitchyardError.validation(missing: ["data"], invalid: [], message: "Invalid frame") }
            var metadata = JSONObject()
            if let value = document["metadata"] {
                guard case .object(let object) = value else { throw Self.invalid("metadata", "must be an object") }
                metadata = object
            }
            var eventID: EventID?
            if let value = document["event_id"] {
                guard let text = value.stringValue, let parsed = EventID(text) else { throw Self.invalid("event_id", "must be a UUID") }
                guard IdempotencyKey.isCallerChoosable(parsed) else { throw Self.invalid("event_id", IdempotencyKey.reservedVersionReason) }
                eventID = parsed
            }
            self = .publish(channel: channel, data: data, metadata: metadata, eventID: eventID, id: id)
        case let type?:
            throw SwitchyardError(
                .badRequest, "unknown frame type '\(type.prefix(40))': expected subscribe, unsubscribe or publish",
                details: ["type": .string(String(type.prefix(40)))])
        case nil:
            throw SwitchyardError(.badRequest, "a frame must be a JSON object with a \"type\"")
        }
    }

    private static func patterns(_ document: JSONValue) throws(SwitchyardError) -> [ChannelPattern] {
        guard let value = document["patterns"] else { throw SwitchyardError.validation(missing: ["patterns"], invalid: [], message: "Invalid frame") }
        guard let array = value.arrayValue, !array.isEmpty else { throw invalid("patterns", "must be a non-empty array of channel patterns") }
        var patterns: [ChannelPattern] = []
        for item in array {
            guard let text = item.stringValue else { throw invalid("patterns", "must be a non-empty array of channel patterns") }
            patterns.append(try ChannelPattern(text))
        }
        return patterns
    }

    private static func invalid(_ field: String, _ reason: String) -> SwitchyardError {
        SwitchyardError.validation(missing: [], invalid: [(field, reason)], message: "Invalid frame")
    }
}

/// The frames the server sends on `/v1/ws`, as compact JSON bytes.
enum ServerFrame {
    static func subscribed(_ patterns: [ChannelPattern], id: JSONValue?) -> [UInt8] {
        bytes(["type": "subscribed", "patterns": .array(patterns.map { .string($0.rawValue) })], id: id)
    }

    static func unsubscribed(_ patterns: [ChannelPattern], id: JSONValue?) -> [UInt8] {
        bytes(["type": "unsubscribed", "patterns": .array(patterns.map { .string($0.rawValue) })], id: id)
    }

    static func published(_ receipt: PublishReceipt, id: JSONValue?) -> [UInt8] {
        guard case .object(let fields) = RouterReports.receipt(receipt) else { return [] }
        var object: JSONObject = ["type": "published"]
        for (key, value) in fields { object[key] = value }
        return bytes(object, id: id)
    }

    static func error(_ error: SwitchyardError, id: JSONValue?) -> [UInt8] {
        bytes(["type": "error", "error": error.body], id: id)
    }

    static func gap(_ channel: ChannelName, from: Int64, to: Int64) -> [UInt8] {
        bytes(["type": "gap", "channel": .string(channel.rawValue), "from": .int(from), "to": .int(to)], id: nil)
    }

    static let heartbeat: [UInt8] = Array(#"{"type":"heartbeat"}"#.utf8)

    /// `{"type":"refused","channel","sequence_number","event_id","error"}`: the event at this place
    /// of its channel failed verification (its signature) and is not sent.
    static func refused(_ envelope: Envelope, _ error: SwitchyardError) -> [UInt8] {
        bytes([
            "type": "refused", "channel": .string(envelope.channel.rawValue), "sequence_number": .int(envelope.sequenceNumber),
            "event_id": .string(envelope.eventID.description), "error": error.body,
        ], id: nil)
    }

    /// `{"type":"event","envelope":{…}}`, the envelope written by its own writer.
    static func event(_ envelope: Envelope) -> [UInt8] {
        var bytes = Array(#"{"type":"event","envelope":"#.utf8)
        envelope.write(into: &bytes)
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    private static func bytes(_ object: JSONObject, id: JSONValue?) -> [UInt8] {
        var object = object
        if let id { object["id"] = id }
        var bytes: [UInt8] = []
        JSONValue.object(object).write(into: &bytes)
        return bytes
    }
}
