import Logging
import PostgresNIO
import Switchyard

extension Archive {
    /// Replays a channel across both tiers: from the archive for the range Redis no longer
    /// retains, then from Redis, with the same envelopes and no gap or duplicate at the seam.
    ///
    /// The seam is a sequence number: events below the oldest one Redis holds come from the
    /// archive, the rest from Redis. When Redis trims while this runs, the hole is filled from the
    /// archive. Every event of the channel must go through the outbox (strict mode) for the
    /// archive to hold the older range.
    /// - Parameters:
    ///   - channel: The channel.
    ///   - router: The router whose engine holds the recent range.
    ///   - since: Where to start: the beginning, a sequence number or a time (inclusive).
    ///   - until: Where to stop (inclusive); `nil` for the newest event.
    ///   - limit: The most events returned.
    /// - Returns: The envelopes, by sequence number.
    /// - Throws: ``Switchyard/SwitchyardError`` from the engine, or a PostgreSQL error.
    public func replay(
        _ channel: ChannelName, through router: Router, since: ReplayBound = .beginning, until: ReplayBound? = nil, limit: Int = 10_000
    ) async throws -> [Envelope] {
        let info = try await router.info(channel)
        let firstRetained = info.firstSequenceNumber ?? (info.lastSequenceNumber + 1)
        var events: [Envelope] = []
        if firstRetained > 1 {
            events = try await self.events(channel, since: since, until: Self.before(firstRetained, until), limit: limit)
        }
        if events.count >= limit { return Array(events.prefix(limit)) }
        if Self.isPast(firstRetained, until) { return events }

        let redisSince: ReplayBound
        var expected: Int64? = nil
        if let last = events.last {
            expected = last.sequenceNumber + 1
            redisSince = .sequence(last.sequenceNumber + 1)
        } else if case .time = since {
            redisSince = since
        } else {
            let start: Int64 = if case .sequence(let number) = since { max(number, firstRetained) } else { firstRetained }
            expected = start
            redisSince = .sequence(start)
        }
        var recent = try await router.replay(try ChannelPattern(channel.rawValue), since: redisSince, until: until, limit: limit - events.count)
        if let expected, let first = recent.first, first.sequenceNumber > expected {
            let hole = try await self.events(channel, since: .sequence(expected), until: .sequence(first.sequenceNumber - 1), limit: limit)
            recent = hole + recent
        }
        return Array((events + recent).prefix(limit))
    }

    /// The upper bound of the archive's part: the caller's, and below `firstRetained`.
    private static func before(_ firstRetained: Int64, _ until: ReplayBound?) -> ReplayBound {
        if case .sequence(let number)? = until, number < firstRetained { return .sequence(number) }
        // A time bound keeps the caller's bound: the archive may then run past the seam, and
        // Redis continues after the archive's last event.
        if case .time? = until { return until! }
        return .sequence(firstRetained - 1)
    }

    private static func isPast(_ sequence: Int64, _ until: ReplayBound?) -> Bool {
        if case .sequence(let number)? = until { return sequence > number }
        return false
    }
}
