import JSONSchema
import NIOCore
import RESP
import RedisClient
import Switchyard

extension RedisEngine {
    /// Runs `dead_letter.lua`: `XADD dlq:{C}` with `envelope`, `group`, `error`, `deliveries`,
    /// `failed_at` (and `stream_id`, for requeue), then `XACK`, in one step.
    public func deadLetter(_ request: DeadLetterRequest) async throws(SwitchyardError) {
        try await moveToDeadLetters(
            channel: request.delivery.channel, group: request.group, position: request.delivery.position,
            envelope: request.delivery.envelope.encoded(), error: request.error, deliveries: request.deliveries)
    }

    /// Moves an entry whose `envelope` field cannot be read to the dead letters, as it is, so the group moves on.
    func deadLetterUnreadable(_ entry: StreamEntry, group: String, channel: ChannelName) async throws(SwitchyardError) {
        let text = entry[field: "envelope"].map { String(buffer: $0) } ?? ""
        let reason = SwitchyardError.validation(missing: [], invalid: [("envelope", "the stream entry holds no readable envelope")], message: "Invalid envelope").body
        logger.warning("moved an unreadable stream entry to the dead letters", metadata: ["channel": "\(channel)", "id": "\(entry.id)"])
        try await moveToDeadLetters(
            channel: channel, group: group, position: StreamPosition(entry.id), envelope: text, error: reason, deliveries: 1)
    }

    /// Adds a message the bridge refused to `dlq:{C}`, as it was: `envelope` holds the message's
    /// bytes, `group` the bridge's source, `error` the `validation_error` body, `deliveries` 0, and
    /// `refused_on` the Pub/Sub channel it came on. It has no `stream_id`, so requeue leaves it.
    func deadLetterRefusedMessage(
        _ message: ByteBuffer, channel: ChannelName, pubSubChannel: String, group: String, error: JSONValue
    ) async throws(SwitchyardError) {
        var arguments = [ByteBuffer(string: "XADD"), ByteBuffer(string: RedisKeys(channel).deadLetters), ByteBuffer(string: "*")]
        for (name, value) in [
            ("envelope", message), ("group", ByteBuffer(string: group)), ("error", ByteBuffer(string: error.serialized())),
            ("deliveries", ByteBuffer(string: "0")), ("failed_at", ByteBuffer(string: clock.now().description)),
            ("refused_on", ByteBuffer(string: pubSubChannel)),
        ] {
            arguments.append(ByteBuffer(string: name))
            arguments.append(value)
        }
        do {
            _ = try await client.execute(GenericCommand(arguments: arguments))
        } catch {
            throw SwitchyardError.redis(error, "dead-lettering a refused message on \(channel)")
        }
    }

    private func moveToDeadLetters(
        channel: ChannelName, group: String, position: StreamPosition, envelope: String, error: JSONValue, deliveries: Int
    ) async throws(SwitchyardError) {
        let keys = RedisKeys(channel)
        let arguments = [
            group, position.rawValue, envelope, error.serialized(), String(deliveries), clock.now().description,
        ].map { ByteBuffer(string: $0) }
        do {
            _ = try await client.execute(RedisEngineScripts.deadLetter, keys: [keys.deadLetters, keys.stream], arguments: arguments)
        } catch {
            throw SwitchyardError.redis(error, "dead-lettering on \(channel)")
        }
    }

    /// `XRANGE dlq:{C} - + COUNT limit`; entries whose envelope cannot be read are skipped, except
    /// messages the bridge refused (field `refused_on`): their envelope has sequence number 0, the
    /// message as `data` (its JSON, or the text as a string when it is not JSON), the bridge's source,
    /// and `metadata.refused_on` naming the Pub/Sub channel.
    public func deadLetters(_ channel: ChannelName, limit: Int) async throws(SwitchyardError) -> [DeadLetter] {
        guard limit > 0 else { return [] }
        let entries: [StreamEntry]
        do {
            entries = try await client.execute(XRANGE(RedisKeys(channel).deadLetters, start: "-", end: "+", count: limit))
        } catch {
            throw SwitchyardError.redis(error, "reading the dead letters of \(channel)")
        }
        return entries.compactMap { entry in
            func text(_ name: String) -> String? { entry[field: name].map { String(buffer: $0) } }
            guard let group = text("group") else { return nil }
            let failedAt = text("failed_at").flatMap { Timestamp(rfc3339: $0) } ?? Timestamp(unixMilliseconds: Int64(entry.id.milliseconds))
            guard let envelope = Self.envelope(of: entry) ?? Self.refusedMessage(entry, channel: channel, group: group, at: failedAt) else { return nil }
            let error = text("error").flatMap { try? JSONValue(parsing: $0) } ?? .null
            return DeadLetter(
                id: StreamPosition(entry.id), envelope: envelope, group: group, error: error,
                deliveries: text("deliveries").flatMap { Int($0) } ?? 0, failedAt: failedAt)
        }
    }

    /// The envelope a bridge's dead letter is listed with (see ``deadLetters(_:limit:)``), or `nil` for another entry.
    static func refusedMessage(_ entry: StreamEntry, channel: ChannelName, group: String, at time: Timestamp) -> Envelope? {
        guard let refusedOn = entry[field: "refused_on"].map({ String(buffer: $0) }) else { return nil }
        let bytes = entry[field: "envelope"] ?? ByteBuffer()
        let data = (try? JSONValue(parsing: Array(bytes.readableBytesView))) ?? .string(String(buffer: bytes))
        // The id is derived from the dead letter's own, so a listing shows the same id every time.
        let id = EventID(high: (UInt64(entry.id.milliseconds) << 16) | 0x7000, low: 0x8000_0000_0000_0000 | (UInt64(entry.id.sequence) & 0x3fff_ffff_ffff_ffff))
        return Envelope(
            eventID: id, channel: channel, sequenceNumber: 0, timestamp: time, source: group, schema: "", data: data,
            metadata: ["refused_on": .string(refusedOn)])
    }

    /// Puts each dead letter back in its group's pending list with `XCLAIM ... FORCE`, idle since
    /// long ago and with its delivery count reset, so the group's next claim delivers it, and
    /// removes it from `dlq:{C}`. Letters whose event was trimmed from the stream or whose group
    /// is gone stay.
    public func requeueDeadLetters(_ channel: ChannelName, ids: [StreamPosition]) async throws(SwitchyardError) -> Int {
        let keys = RedisKeys(channel)
        let arguments = ids.compactMap(\.redisStreamID).map { ByteBuffer(string: $0.description) }
        guard !arguments.isEmpty else { return 0 }
        do {
            return try Int(resp: try await client.execute(RedisEngineScripts.requeue, keys: [keys.deadLetters, keys.stream], arguments: arguments))
        } catch {
            throw SwitchyardError.redis(error, "requeueing dead letters of \(channel)")
        }
    }

    /// `XDEL dlq:{C} ids`.
    public func dropDeadLetters(_ channel: ChannelName, ids: [StreamPosition]) async throws(SwitchyardError) -> Int {
        let arguments = ids.compactMap(\.redisStreamID).map(\.description)
        guard !arguments.isEmpty else { return 0 }
        do {
            let reply = try await client.execute(GenericCommand(arguments: (["XDEL", RedisKeys(channel).deadLetters] + arguments).map { ByteBuffer(string: $0) }))
            return reply.int ?? 0
        } catch {
            throw SwitchyardError.redis(error, "dropping dead letters of \(channel)")
        }
    }
}
