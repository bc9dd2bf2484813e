extension Router {
    /// The stored events of a channel, or of every channel matching a pattern, between two
    /// bounds (both inclusive), oldest first, at most `limit`. Across channels, events are
    /// ordered by timestamp, then channel, then sequence number.
    ///
    /// Several channels are merged lazily: each is read first in a page of
    /// ``replayMergePageSize(limit:channels:)`` events (the limit shared out among the channels, at
    /// least one), and a channel whose page was all taken reads its next page twice as large, up
    /// to 512; reading stops once `limit` events are taken. So a replay reads at most about three
    /// times `limit` plus one event per channel, however many and however long the channels are.
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
        guard limit > 0, !channels.isEmpty else { return [] }
        let start: ReadStart
        switch since {
        case .beginning: start = .beginning
        case .sequence(let number): start = .sequence(number)
        case .time(let timestamp): start = .time(timestamp)
        }
        let pageSize = Self.replayMergePageSize(limit: limit, channels: channels.count)
        var cursors: [ReplayCursor] = []
        for channel in channels {
            var cursor = ReplayCursor(channel: channel, next: start)
            try await cursor.fill(from: engine, pageSize: pageSize, until: until)
            if cursor.head != nil { cursors.append(cursor) }
        }
        var heap = ReplayHeap(cursors)
        var events: [Envelope] = []
        events.reserveCapacity(min(limit, 4096))
        while events.count < limit, var cursor = heap.popFirst() {
            events.append(cursor.take())
            if cursor.head == nil { try await cursor.fill(from: engine, pageSize: min(limit, 512, cursor.page.count * 2), until: until) }
            if cursor.head != nil { heap.insert(cursor) }
        }
        return events
    }

    /// The first page size of a replay over `channels` channels: the limit shared out among
    /// them, at least 1 and at most 512 (and never more than the limit).
    static func replayMergePageSize(limit: Int, channels: Int) -> Int {
        min(limit, 512, max(1, limit / max(1, channels)))
    }
}

/// One channel of a replay: the page read last, and where the next page starts.
private struct ReplayCursor {
    let channel: ChannelName
    /// Where the next page starts; `nil` when the channel has nothing more in the bounds.
    var next: ReadStart?
    var page: [Envelope] = []
    var index = 0

    init(channel: ChannelName, next: ReadStart) {
        self.channel = channel
        self.next = next
    }

    var head: Envelope? { index < page.count ? page[index] : nil }

    mutating func take() -> Envelope {
        defer { index += 1 }
        return page[index]
    }

    /// Reads the next page, up to the first event past `until`.
    mutating func fill(from engine: any Engine, pageSize: Int, until: ReplayBound?) async throws(SwitchyardError) {
        guard let start = next else { return }
        let stored = try await engine.read(channel, from: start, limit: pageSize)
        page = []
        index = 0
        next = stored.count == pageSize ? stored.last.map { .after($0.position) } : nil
        for event in stored {
            if Self.isPast(event.envelope, until) {
                next = nil
                break
            }
            page.append(event.envelope)
        }
    }

    private static func isPast(_ envelope: Envelope, _ until: ReplayBound?) -> Bool {
        switch until {
        case nil, .beginning?: false
        case .sequence(let number)?: envelope.sequenceNumber > number
        case .time(let timestamp)?: envelope.timestamp > timestamp
        }
    }
}

/// A binary min-heap of replay cursors by their next event's timestamp, channel and sequence number.
private struct ReplayHeap {
    private var cursors: [ReplayCursor]

    init(_ cursors: [ReplayCursor]) {
        self.cursors = []
        self.cursors.reserveCapacity(cursors.count)
        for cursor in cursors { insert(cursor) }
    }

    private static func precedes(_ a: ReplayCursor, _ b: ReplayCursor) -> Bool {
        let (x, y) = (a.head!, b.head!)
        return (x.timestamp, x.channel, x.sequenceNumber) < (y.timestamp, y.channel, y.sequenceNumber)
    }

    mutating func insert(_ cursor: ReplayCursor) {
        cursors.append(cursor)
        var child = cursors.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.precedes(cursors[child], cursors[parent]) else { break }
            cursors.swapAt(child, parent)
            child = parent
        }
    }

    mutating func popFirst() -> ReplayCursor? {
        guard !cursors.isEmpty else { return nil }
        cursors.swapAt(0, cursors.count - 1)
        let first = cursors.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < cursors.count, Self.precedes(cursors[left], cursors[smallest]) { smallest = left }
            if right < cursors.count, Self.precedes(cursors[right], cursors[smallest]) { smallest = right }
            guard smallest != parent else { return first }
            cursors.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
