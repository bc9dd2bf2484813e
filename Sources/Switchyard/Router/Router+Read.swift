/// What a reader gets from a checked read: the events that verified, and those refused with why.
public struct CheckedEvents: Sendable {
    /// The events whose signatures verified (or that need none), in read order.
    public var events: [Envelope]
    /// The events of critical channels whose signature did not verify, with the reason; never
    /// handed to a reader.
    public var refused: [(envelope: Envelope, error: SwitchyardError)]

    /// Creates the result.
    public init(events: [Envelope] = [], refused: [(envelope: Envelope, error: SwitchyardError)] = []) {
        self.events = events
        self.refused = refused
    }
}

extension Router {
    /// The channels with a stream that match `patterns`, from the engine's registry.
    public func channels(matching patterns: [ChannelPattern]) async throws(SwitchyardError) -> [ChannelName] {
        try await engine.channels(matching: patterns)
    }

    /// Up to `limit` stored events of one channel from `start`, oldest first, as the engine holds
    /// them (signatures unchecked: see ``checked(_:reader:)``).
    public func read(_ channel: ChannelName, from start: ReadStart, limit: Int) async throws(SwitchyardError) -> [StoredEvent] {
        try await engine.read(channel, from: start, limit: limit)
    }

    /// The engine's health: whether it is reachable and what its spool holds.
    public func health() async -> EngineHealth {
        await engine.health()
    }

    /// ``replay(_:since:until:limit:including:)`` with every event's signature checked: what does
    /// not verify is counted (`switchyard_events_refused_total{reader}`) and returned apart.
    /// - Parameter reader: Who reads, for the metric and the audit (`gateway`, a group name).
    public func checkedReplay(
        _ channelOrPattern: ChannelPattern, since: ReplayBound = .beginning, until: ReplayBound? = nil, limit: Int = 1000,
        including: (@Sendable (ChannelName) -> Bool)? = nil, reader: String
    ) async throws(SwitchyardError) -> CheckedEvents {
        checked(try await replay(channelOrPattern, since: since, until: until, limit: limit, including: including), reader: reader)
    }

    /// The channel's newest retained event, its signature checked.
    /// - Throws: the verification's ``SwitchyardError`` (counted) when the event does not verify.
    public func checkedLatest(_ channel: ChannelName, reader: String) async throws(SwitchyardError) -> Envelope? {
        guard let envelope = try await latest(channel) else { return nil }
        do { try verify(envelope) } catch {
            countRefusedEvent(envelope, error: error, by: reader)
            throw error
        }
        return envelope
    }

    /// Splits `envelopes` into those that verify and those that do not, counting the refusals.
    public func checked(_ envelopes: [Envelope], reader: String) -> CheckedEvents {
        var result = CheckedEvents()
        result.events.reserveCapacity(envelopes.count)
        for envelope in envelopes {
            do throws(SwitchyardError) {
                try verify(envelope)
                result.events.append(envelope)
            } catch {
                countRefusedEvent(envelope, error: error, by: reader)
                result.refused.append((envelope, error))
            }
        }
        return result
    }
}
