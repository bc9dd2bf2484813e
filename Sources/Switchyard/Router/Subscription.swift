/// A live sequence of envelopes from channels matching patterns, optionally starting with the
/// history of some channels: it reads the history first, then switches to live events with no
/// gap and no duplicate at the seam.
///
/// Per channel, envelopes come in sequence order; a gap in the live feed (a dropped live event)
/// is filled from the stream before the next envelope is returned.
public struct Subscription: AsyncSequence, Sendable {
    /// Each element is one event.
    public typealias Element = Envelope

    let engine: any Engine
    let patterns: [ChannelPattern]
    let from: [ChannelName: Int64]
    let pageSize: Int

    /// Creates the iterator; nothing is read before the first `next()`.
    public func makeAsyncIterator() -> Iterator {
        Iterator(engine: engine, patterns: patterns, from: from, pageSize: pageSize)
    }

    /// Reads history, then live events.
    public struct Iterator: AsyncIteratorProtocol {
        let engine: any Engine
        let patterns: [ChannelPattern]
        let pageSize: Int
        private var live: AsyncStream<Envelope>.Iterator?
        private var history: [(channel: ChannelName, next: Int64)]
        private var buffer: [Envelope] = []
        private var bufferIndex = 0
        private var lastSeen: [ChannelName: Int64] = [:]

        init(engine: any Engine, patterns: [ChannelPattern], from: [ChannelName: Int64], pageSize: Int) {
            self.engine = engine
            self.patterns = patterns
            self.pageSize = pageSize
            history = from.filter { entry in patterns.contains { $0.matches(entry.key) } }
                .map { (channel: $0.key, next: Swift.max(1, $0.value)) }
                .sorted { $0.channel < $1.channel }
            for (channel, next) in history { lastSeen[channel] = next - 1 }
        }

        /// Makes the live subscription live on the engine without reading anything, so events
        /// published after it returns are delivered; ``next()`` does it when it has not been done.
        /// - Throws: ``SwitchyardError`` when the engine cannot subscribe.
        public mutating func start() async throws {
            if live == nil {
                live = try await engine.liveEvents(matching: patterns).makeAsyncIterator()
            }
        }

        /// The next envelope, or `nil` when the live feed ends.
        /// - Throws: ``SwitchyardError`` when the engine fails.
        public mutating func next() async throws -> Envelope? {
            try await start()
            while true {
                if bufferIndex < buffer.count {
                    defer { bufferIndex += 1 }
                    return buffer[bufferIndex]
                }
                buffer.removeAll(keepingCapacity: true)
                bufferIndex = 0
                if let (channel, start) = history.first {
                    let page = try await engine.read(channel, from: .sequence(start), limit: pageSize)
                    guard let last = page.last?.envelope.sequenceNumber else {
                        history.removeFirst()
                        continue
                    }
                    buffer = page.map(\.envelope)
                    lastSeen[channel] = last
                    history[0].next = last + 1
                    continue
                }
                guard let envelope = await live!.next() else { return nil }
                guard let last = lastSeen[envelope.channel] else {
                    lastSeen[envelope.channel] = envelope.sequenceNumber
                    return envelope
                }
                if envelope.sequenceNumber <= last { continue }
                if envelope.sequenceNumber > last + 1 {
                    try await fillGap(envelope.channel, after: last, before: envelope.sequenceNumber)
                }
                buffer.append(envelope)
                lastSeen[envelope.channel] = envelope.sequenceNumber
            }
        }

        /// Reads the events between `after` and `before` (exclusive) from the stream into the buffer.
        private mutating func fillGap(_ channel: ChannelName, after: Int64, before: Int64) async throws {
            var next = after + 1
            while next < before {
                let page = try await engine.read(channel, from: .sequence(next), limit: Swift.min(pageSize, Int(before - next)))
                let wanted = page.map(\.envelope).filter { $0.sequenceNumber < before }
                guard let last = wanted.last else { return }
                buffer += wanted
                next = last.sequenceNumber + 1
            }
        }
    }
}

extension Router {
    /// Events on channels matching `patterns`, live; for the channels in `from`, starting with
    /// their history from the given sequence number, then switching to live with no gap and no
    /// duplicate at the seam.
    ///
    /// ```swift
    /// for try await envelope in router.subscribe([try ChannelPattern("trades:*")], from: [fills: lastSeen + 1]) { … }
    /// ```
    /// - Parameters:
    ///   - patterns: Channel names or globs.
    ///   - from: Per channel, the first sequence number wanted. Channels left out start live.
    public func subscribe(_ patterns: [ChannelPattern], from: [ChannelName: Int64] = [:]) -> Subscription {
        Subscription(engine: engine, patterns: patterns, from: from, pageSize: 512)
    }
}
