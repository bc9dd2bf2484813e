import JSONSchema
import Switchyard

/// The JSON the HTTP API answers with for channels, groups, dead letters, replays and receipts,
/// computed straight from a router: the gateway's routes and the CLI's `--redis` mode share it, so
/// both print the same documents.
public struct RouterReports: Sendable {
    /// The router read from.
    public let router: Switchyard.Router

    /// The windows of ``channels(readable:)``'s `publish_rate`, in seconds.
    public static let rateWindows: [Int64] = [10, 60]

    /// Creates reports over a router.
    public init(router: Switchyard.Router) {
        self.router = router
    }

    /// `{"channels":[…]}`: every channel with a stream that `readable` accepts, with its sequence
    /// numbers, length, groups, dead letters, and `publish_rate` (see ``publishRate(_:info:)``).
    public func channels(readable: (ChannelName) -> Bool = { _ in true }) async throws(SwitchyardError) -> JSONValue {
        let names = try await router.channels(matching: [try ChannelPattern("*")])
        var channels: [JSONValue] = []
        for name in names where readable(name) {
            let info = try await router.info(name)
            channels.append([
                "channel": .string(name.rawValue), "last_sequence_number": .int(info.lastSequenceNumber),
                "first_sequence_number": info.firstSequenceNumber.map { .int($0) } ?? .null,
                "length": .int(Int64(info.length)), "groups": .array(info.groups.map { .string($0) }),
                "dead_letters": .int(Int64(info.deadLetters)),
                "publish_rate": try await publishRate(name, info: info),
            ])
        }
        return ["channels": .array(channels)]
    }

    /// Events per second published to a channel over each of ``rateWindows``, as
    /// `{"10s": 0.5, "60s": 0.1}`: the sequence numbers given out since the first event stored in
    /// the window, divided by the window's length. It counts what the stream holds, so a channel
    /// whose retention is shorter than a window, or whose events are not stored (`live`
    /// delivery), reads low.
    public func publishRate(_ channel: ChannelName, info: ChannelInfo) async throws(SwitchyardError) -> JSONValue {
        let now = router.now.unixMilliseconds
        var rates = JSONObject()
        for seconds in Self.rateWindows {
            let start = ReadStart.time(Timestamp(unixMilliseconds: now - seconds * 1000))
            var count: Int64 = 0
            if info.lastSequenceNumber > 0, let first = try await router.read(channel, from: start, limit: 1).first {
                count = max(0, info.lastSequenceNumber - first.envelope.sequenceNumber + 1)
            }
            rates["\(seconds)s"] = .double(Double(count) / Double(seconds))
        }
        return .object(rates)
    }

    /// `{"groups":[…]}`: per channel matching `pattern` that `readable` accepts, and per group,
    /// the pending entries and the lag in entries and in seconds.
    public func groups(_ pattern: ChannelPattern, readable: (ChannelName) -> Bool = { _ in true }) async throws(SwitchyardError) -> JSONValue {
        let names: [ChannelName]
        if pattern.isLiteral { names = [try ChannelName(pattern.rawValue)] } else { names = try await router.channels(matching: [pattern]) }
        let now = router.now
        var groups: [JSONValue] = []
        for name in names where readable(name) {
            var latest = try await router.info(name)
            for group in latest.groups {
                let (state, info) = try await router.groupInfoWithChannel(group, on: name, channelReadBefore: latest)
                latest = info
                groups.append([
                    "group": .string(group), "channel": .string(name.rawValue), "pending": .int(Int64(state.pending)),
                    "pending_by_consumer": .object(JSONObject(state.pendingByConsumer.sorted { $0.key < $1.key }.map { ($0.key, .int(Int64($0.value))) })),
                    "lag": .int(Int64(state.lag)),
                    "lag_seconds": .double(try await lagSeconds(state, info: info, now: now)),
                ])
            }
        }
        return ["groups": .array(groups)]
    }

    /// How old the oldest entry the group has not been delivered is; 0 without lag.
    private func lagSeconds(_ state: GroupInfo, info: ChannelInfo, now: Timestamp) async throws(SwitchyardError) -> Double {
        guard state.lag > 0 else { return 0 }
        let first = info.lastSequenceNumber - Int64(state.lag) + 1
        guard let oldest = try await router.read(state.channel, from: .sequence(first), limit: 1).first else { return 0 }
        return max(0, Double(now.unixMilliseconds - oldest.envelope.timestamp.unixMilliseconds) / 1000)
    }

    /// `{"dead_letters":[…]}`: the channel's dead letters, oldest first, at most `limit`.
    public func deadLetters(_ channel: ChannelName, limit: Int) async throws(SwitchyardError) -> JSONValue {
        let letters = try await router.deadLetters(channel, limit: limit)
        return [
            "dead_letters": .array(letters.map { letter in
                [
                    "id": .string(letter.id.rawValue), "group": .string(letter.group), "error": letter.error,
                    "deliveries": .int(Int64(letter.deliveries)), "failed_at": .string(letter.failedAt.description),
                    "envelope": letter.envelope.jsonValue,
                ]
            })
        ]
    }

    /// `{"action","requested","found"}`: requeues (`requeue`) or drops (`drop`) dead letters by id.
    /// `who` is recorded in the audit trail (a token's subject); the router's source when `nil`.
    public func actOnDeadLetters(_ channel: ChannelName, action: String, ids: [StreamPosition], by who: String? = nil) async throws(SwitchyardError) -> JSONValue {
        let found = action == "requeue"
            ? try await router.requeueDeadLetters(channel, ids: ids, by: who)
            : try await router.dropDeadLetters(channel, ids: ids, by: who)
        return ["action": .string(action), "requested": .int(Int64(ids.count)), "found": .int(Int64(found))]
    }

    /// `{"events":[…],"count":N}`: a replay's envelopes; with `refused` events (whose signature did
    /// not verify), also `"refused":[{"channel","sequence_number","event_id","error"}]`.
    public static func replay(_ events: [Envelope], refused: [(Envelope, SwitchyardError)] = []) -> JSONValue {
        var report: JSONObject = ["events": .array(events.map(\.jsonValue)), "count": .int(Int64(events.count))]
        if !refused.isEmpty {
            report["refused"] = .array(refused.map { envelope, error in
                [
                    "channel": .string(envelope.channel.rawValue), "sequence_number": .int(envelope.sequenceNumber),
                    "event_id": .string(envelope.eventID.description), "error": error.body,
                ]
            })
        }
        return .object(report)
    }

    /// A publish receipt as the API answers it.
    public static func receipt(_ receipt: PublishReceipt) -> JSONValue {
        var body: JSONObject = [
            "event_id": .string(receipt.eventID.description), "channel": .string(receipt.channel.rawValue),
            "status": .string(receipt.status.rawValue), "stream_id": .string(receipt.streamID.rawValue),
            "timestamp": .string(receipt.timestamp.description), "duplicate": .bool(receipt.duplicate),
        ]
        if let sequenceNumber = receipt.sequenceNumber { body["sequence_number"] = .int(sequenceNumber) }
        return .object(body)
    }
}
