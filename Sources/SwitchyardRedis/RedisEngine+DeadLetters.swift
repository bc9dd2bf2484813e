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

    /// `XRANGE dlq:{C} - + COUNT limit`; entries whose envelope cannot be read are skipped.
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
            guard let envelope = Self.envelope(of: entry), let group = text("group") else { return nil }
            let error = text("error").flatMap { try? JSONValue(parsing: $0) } ?? .null
            let failedAt = text("failed_at").flatMap { Timestamp(rfc3339: $0) } ?? Timestamp(unixMilliseconds: Int64(entry.id.milliseconds))
            return DeadLetter(
                id: StreamPosition(entry.id), envelope: envelope, group: group, error: error,
                deliveries: text("deliveries").flatMap { Int($0) } ?? 0, failedAt: failedAt)
        }
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
