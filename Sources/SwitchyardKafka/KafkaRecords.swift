import JSONSchema
import KafkaClient
import Switchyard

/// The records the Kafka engine writes, and how it reads them back.
///
/// An event's record value is the envelope's JSON exactly as every engine writes it, so any Kafka
/// client reads it as it is; the engine's own bookkeeping rides in headers that other readers may
/// ignore: the stream id, the channel's retention, whether it keeps entries, and when the event
/// id's dedup window closes.
enum KafkaRecords {
    static let idHeader = "switchyard-id"
    static let retentionHeader = "switchyard-retention-ms"
    static let durableHeader = "switchyard-durable"
    static let dedupHeader = "switchyard-dedup-until"

    /// An event read back from its topic.
    struct StoredRecord {
        var event: RestoredEvent
        var dedupUntil: Int64
        var partition: Int32
        var offset: Int64
    }

    /// The record of a newly sequenced event.
    static func event(
        _ envelope: Envelope, id: EntryID, rules: AppendRules, dedupUntil: Int64, topic: String, policy: ChannelPolicy.Kafka?
    ) -> KafkaOutgoingRecord {
        KafkaOutgoingRecord(
            topic: topic, partition: (policy?.partitions ?? 1) > 1 ? nil : 0, key: key(of: envelope, policy: policy),
            value: Array(envelope.encoded().utf8),
            headers: [
                KafkaHeader(name: idHeader, value: Array(id.description.utf8)),
                KafkaHeader(name: retentionHeader, value: Array(String(rules.retention.milliseconds).utf8)),
                KafkaHeader(name: durableHeader, value: rules.durable ? [UInt8(ascii: "1")] : [UInt8(ascii: "0")]),
                KafkaHeader(name: dedupHeader, value: Array(String(dedupUntil).utf8)),
            ],
            timestampMilliseconds: id.milliseconds)
    }

    /// The record key: the payload's partition-key field when the channel names one and the
    /// payload has it, otherwise the event id.
    static func key(of envelope: Envelope, policy: ChannelPolicy.Kafka?) -> [UInt8] {
        if let field = policy?.partitionKey, let value = envelope.data[field] {
            return Array((value.stringValue ?? value.serialized()).utf8)
        }
        return Array(envelope.eventID.description.utf8)
    }

    /// Reads an event record; `nil` for a record that does not hold an envelope of `channel`.
    /// Records written by other producers (no headers) take their id from the envelope's
    /// timestamp and the channel's `retention`.
    static func decodeEvent(_ record: KafkaRecord, channel: ChannelName, retention: Int64) -> StoredRecord? {
        guard let value = record.value, let envelope = try? Envelope(decoding: value), envelope.channel == channel else { return nil }
        let id = header(idHeader, in: record).flatMap { EntryID(StreamPosition($0)) }
            ?? EntryID(milliseconds: envelope.timestamp.unixMilliseconds, counter: 0)
        let kept = header(retentionHeader, in: record).flatMap { Int64($0) } ?? retention
        let durable = header(durableHeader, in: record) != "0"
        let dedupUntil = header(dedupHeader, in: record).flatMap { Int64($0) } ?? 0
        return StoredRecord(
            event: RestoredEvent(envelope: envelope, id: id, retention: kept, durable: durable), dedupUntil: dedupUntil,
            partition: record.partition, offset: record.offset)
    }

    static func header(_ name: String, in record: KafkaRecord) -> String? {
        record.headers.last { $0.name == name }.map { String(decoding: $0.value, as: UTF8.self) }
    }

    // MARK: Dead letters

    /// A dead letter, and the pending position it came from.
    static func deadLetter(_ letter: DeadLetter, pending: StreamPosition, topic: String) -> KafkaOutgoingRecord {
        let body: JSONValue = [
            "kind": "letter", "id": .string(letter.id.rawValue), "group": .string(letter.group),
            "envelope": letter.envelope.jsonValue, "error": letter.error, "deliveries": .int(Int64(letter.deliveries)),
            "failed_at": .int(letter.failedAt.unixMilliseconds), "pending": .string(pending.rawValue),
        ]
        return KafkaOutgoingRecord(topic: topic, partition: 0, key: Array(letter.id.rawValue.utf8), value: Array(body.serialized().utf8))
    }

    /// Dead letters that were dropped or requeued, and so are gone from the list.
    static func resolved(_ ids: [StreamPosition], action: String, topic: String) -> KafkaOutgoingRecord {
        let body: JSONValue = ["kind": "resolved", "action": .string(action), "ids": .array(ids.map { .string($0.rawValue) })]
        return KafkaOutgoingRecord(topic: topic, partition: 0, value: Array(body.serialized().utf8))
    }

    /// What one record of a dead-letter topic says.
    enum DeadLetterEntry {
        case letter(DeadLetter, pending: StreamPosition)
        case resolved([StreamPosition])
    }

    static func decodeDeadLetter(_ record: KafkaRecord) -> DeadLetterEntry? {
        guard let value = record.value, let body = try? JSONValue(parsing: value) else { return nil }
        switch body["kind"]?.stringValue {
        case "letter":
            guard let id = body["id"]?.stringValue, let group = body["group"]?.stringValue, let envelopeJSON = body["envelope"],
                let envelope = try? Envelope(json: envelopeJSON), case .int(let deliveries)? = body["deliveries"],
                case .int(let failedAt)? = body["failed_at"]
            else { return nil }
            let letter = DeadLetter(
                id: StreamPosition(id), envelope: envelope, group: group, error: body["error"] ?? .null, deliveries: Int(deliveries),
                failedAt: Timestamp(unixMilliseconds: failedAt))
            return .letter(letter, pending: StreamPosition(body["pending"]?.stringValue ?? ""))
        case "resolved":
            return .resolved((body["ids"]?.arrayValue ?? []).compactMap(\.stringValue).map(StreamPosition.init))
        default:
            return nil
        }
    }

    // MARK: State keys and groups

    static func state(_ key: StateKey, json: String, expiresAt: Int64?, topic: String) -> KafkaOutgoingRecord {
        var body: JSONObject = ["json": .string(json)]
        if let expiresAt { body["expires_at"] = .int(expiresAt) }
        return KafkaOutgoingRecord(topic: topic, partition: 0, key: Array(key.rawValue.utf8), value: Array(JSONValue.object(body).serialized().utf8))
    }

    static func decodeState(_ record: KafkaRecord) -> (key: StateKey, json: String, expiresAt: Int64?)? {
        guard let keyBytes = record.key, let key = try? StateKey(String(decoding: keyBytes, as: UTF8.self)), let value = record.value,
            let body = try? JSONValue(parsing: value), let json = body["json"]?.stringValue
        else { return nil }
        if case .int(let expiresAt)? = body["expires_at"] { return (key, json, expiresAt) }
        return (key, json, nil)
    }

    /// A group created on a channel, and the last entry it counts as delivered at creation.
    static func group(_ group: String, on channel: ChannelName, lastDelivered: EntryID, topic: String) -> KafkaOutgoingRecord {
        let body: JSONValue = ["channel": .string(channel.rawValue), "group": .string(group), "last_delivered": .string(lastDelivered.description)]
        return KafkaOutgoingRecord(topic: topic, partition: 0, key: Array("\(channel.rawValue) \(group)".utf8), value: Array(body.serialized().utf8))
    }

    static func decodeGroup(_ record: KafkaRecord) -> (channel: ChannelName, group: String, lastDelivered: EntryID)? {
        guard let value = record.value, let body = try? JSONValue(parsing: value),
            let channel = body["channel"]?.stringValue.flatMap({ try? ChannelName($0) }), let group = body["group"]?.stringValue,
            let last = body["last_delivered"]?.stringValue.flatMap({ EntryID(StreamPosition($0)) })
        else { return nil }
        return (channel, group, last)
    }
}
