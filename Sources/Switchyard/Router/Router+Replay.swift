extension Router {
    /// The stored events of a channel, or of every channel matching a pattern, between two
    /// bounds (both inclusive), oldest first, at most `limit`. Across channels, events are
    /// ordered by timestamp, then channel, then sequence number.
    /// - Parameters:
    ///   - channelOrPattern: A channel name or glob.
    ///   - since: Where to start: ``ReplayBound/beginning``, a sequence number (per channel) or a time.
    ///   - until: Where to stop; `nil` for the newest event.
    ///   - limit: The most events returned.
    ///   - including: Which of the matching channels to read; every one when `nil` (a gateway
    ///     passes the caller's read grant).
    public func replay(
        _ channelOrPattern: ChannelPattern, since: ReplayBound = .beginning, until: ReplayBound? = nil, limit: Int = 1000,
        including: (@Sendable (ChannelName) -> Bool)? = nil
    ) async throws(SwitchyardError) -> [Envelope] {
        var channels: [ChannelName]
        if channelOrPattern.isLiteral, let channel = try? ChannelName(channelOrPattern.rawValue) {
            channels = [channel]
        } else {
            channels = try await engine.channels(matching: [channelOrPattern])
        }
        if let including { channels = channels.filter(including) }
        let start: ReadStart
        switch since {
        case .beginning: start = .beginning
        case .sequence(let number): start = .sequence(number)
        case .time(let timestamp): start = .time(timestamp)
        }
        var events: [Envelope] = []
        for channel in channels {
            events += try await replay(channel, from: start, until: until, limit: limit)
        }
        if channels.count > 1 {
            events.sort {
                ($0.timestamp, $0.channel, $0.sequenceNumber) < ($1.timestamp, $1.channel, $1.sequenceNumber)
            }
        }
        return Array(events.prefix(limit))
    }

    private func replay(_ channel: ChannelName, from start: ReadStart, until: ReplayBound?, limit: Int) async throws(SwitchyardError) -> [Envelope] {
        var events: [Envelope] = []
        var position = start
        while events.count < limit {
            let wanted = min(512, limit - events.count)
            let page = try await engine.read(channel, from: position, limit: wanted)
            for event in page {
                if Self.isPast(event.envelope, until) { return events }
                events.append(event.envelope)
            }
            guard page.count == wanted, let last = page.last else { return events }
            position = .after(last.position)
        }
        return events
    }

    private static func isPast(_ envelope: Envelope, _ until: ReplayBound?) -> Bool {
        switch until {
        case nil, .beginning?: false
        case .sequence(let number)?: envelope.sequenceNumber > number
        case .time(let timestamp)?: envelope.timestamp > timestamp
        }
    }
}
