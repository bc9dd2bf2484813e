import Hummingbird
import JSONSchema
import Switchyard

extension Gateway {
    /// `GET /v1/replay?channel=…&since=…&until=…&limit=…` (and `/replay`, the original form).
    func replay(_ request: Request) async throws -> Response {
        let pattern = try ChannelPattern(try requiredParameter(request, "channel"))
        let since = try boundParameter(request, "since") ?? .beginning
        let until = try boundParameter(request, "until")
        let limit = try intParameter(request, "limit", fallback: 1000, maximum: configuration.maxReplayLimit)
        let events = try await router.replay(pattern, since: since, until: until, limit: limit)
        return jsonResponse(["events": .array(events.map(\.jsonValue)), "count": .int(Int64(events.count))])
    }

    /// `GET /v1/channels/{channel}/latest`: the newest retained envelope, else 404.
    func latest(_ context: GatewayRequestContext) async throws -> Response {
        let channel = try channelParameter(context)
        guard let envelope = try await router.latest(channel) else {
            throw SwitchyardError(.notFound, "channel '\(channel)' has no retained event", details: ["channel": .string(channel.rawValue)])
        }
        return jsonResponse(envelope.jsonValue)
    }

    /// `GET /v1/channels`: every channel with a stream, its last sequence number and length.
    func channels() async throws -> Response {
        let names = try await router.engine.channels(matching: [try ChannelPattern("*")])
        var channels: [JSONValue] = []
        for name in names {
            let info = try await router.info(name)
            channels.append([
                "channel": .string(name.rawValue), "last_sequence_number": .int(info.lastSequenceNumber),
                "first_sequence_number": info.firstSequenceNumber.map { .int($0) } ?? .null,
                "length": .int(Int64(info.length)), "groups": .array(info.groups.map { .string($0) }),
                "dead_letters": .int(Int64(info.deadLetters)),
            ])
        }
        return jsonResponse(["channels": .array(channels)])
    }

    /// `GET /v1/groups?channel=…`: per channel (a name or pattern, default every channel) and
    /// group, the pending entries and the lag in entries and in seconds.
    func groups(_ request: Request) async throws -> Response {
        let pattern = try ChannelPattern(request.uri.queryParameters.get("channel") ?? "*")
        let names: [ChannelName]
        if pattern.isLiteral { names = [try ChannelName(pattern.rawValue)] } else { names = try await router.engine.channels(matching: [pattern]) }
        let now = router.now
        var groups: [JSONValue] = []
        for name in names {
            let info = try await router.info(name)
            for group in info.groups {
                let state = try await router.groupInfo(group, on: name)
                groups.append([
                    "group": .string(group), "channel": .string(name.rawValue), "pending": .int(Int64(state.pending)),
                    "pending_by_consumer": .object(JSONObject(state.pendingByConsumer.sorted { $0.key < $1.key }.map { ($0.key, .int(Int64($0.value))) })),
                    "lag": .int(Int64(state.lag)),
                    "lag_seconds": .double(try await lagSeconds(state, info: info, now: now)),
                ])
            }
        }
        return jsonResponse(["groups": .array(groups)])
    }

    /// How old the oldest entry the group has not been delivered is; 0 without lag.
    private func lagSeconds(_ state: GroupInfo, info: ChannelInfo, now: Timestamp) async throws(SwitchyardError) -> Double {
        guard state.lag > 0 else { return 0 }
        let first = info.lastSequenceNumber - Int64(state.lag) + 1
        guard let oldest = try await router.engine.read(state.channel, from: .sequence(first), limit: 1).first else { return 0 }
        return max(0, Double(now.unixMilliseconds - oldest.envelope.timestamp.unixMilliseconds) / 1000)
    }
}
