import Hummingbird
import JSONSchema
import Switchyard

extension Gateway {
    /// `GET /v1/replay?channel=…&since=…&until=…&limit=…` (and `/replay`, the original form).
    ///
    /// A channel name needs a subscribe grant for it (else 403); a pattern replays only the
    /// matching channels the caller may read. Events of critical channels whose signature does not
    /// verify are left out of `events` and listed under `refused`, with the reason.
    func replay(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let pattern = try ChannelPattern(try requiredParameter(request, "channel"))
        if pattern.isLiteral { try principal.requireRead(try ChannelName(pattern.rawValue)) }
        let since = try boundParameter(request, "since") ?? .beginning
        let until = try boundParameter(request, "until")
        let limit = try intParameter(request, "limit", fallback: 1000, maximum: configuration.maxReplayLimit)
        let grants = principal.grants
        guard grants.subscribe.contains(where: { $0.mayOverlap(pattern) }) else {
            return jsonResponse(RouterReports.replay([], refused: []))
        }
        let checked = try await router.checkedReplay(
            pattern, since: since, until: until, limit: limit, including: { grants.mayRead($0) }, reader: "gateway")
        return jsonResponse(RouterReports.replay(checked.events, refused: checked.refused.map { ($0.envelope, $0.error) }))
    }

    /// `GET /v1/channels/{channel}/latest`: the newest retained envelope, else 404; needs a subscribe
    /// grant. An envelope whose signature does not verify is refused with 502 and the reason.
    func latest(_ context: GatewayRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let channel = try channelParameter(context)
        try principal.requireRead(channel)
        guard let envelope = try await router.checkedLatest(channel, reader: "gateway") else {
            throw SwitchyardError(.notFound, "channel '\(channel)' has no retained event", details: ["channel": .string(channel.rawValue)])
        }
        return jsonResponse(envelope.jsonValue)
    }

    /// `GET /v1/channels`: every channel with a stream the caller may read, its last sequence
    /// number, length and publish rates.
    func channels(_ context: GatewayRequestContext) async throws -> Response {
        let grants = try context.requirePrincipal().grants
        return jsonResponse(try await RouterReports(router: router).channels(readable: grants.mayRead))
    }

    /// `GET /v1/groups?channel=…`: per channel (a name or pattern, default every channel) the
    /// caller may read, and group, the pending entries and the lag in entries and in seconds. A
    /// channel name the caller may not read is refused with 403.
    func groups(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let pattern = try ChannelPattern(request.uri.queryParameters.get("channel") ?? "*")
        if pattern.isLiteral { try principal.requireRead(try ChannelName(pattern.rawValue)) }
        guard principal.grants.subscribe.contains(where: { $0.mayOverlap(pattern) }) else {
            return jsonResponse(["groups": .array([])])
        }
        return jsonResponse(try await RouterReports(router: router).groups(pattern, readable: principal.grants.mayRead))
    }
}
