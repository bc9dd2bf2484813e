import JSONSchema
import NIOCore
import Switchyard

extension WebSocketSession {
    /// Works through the session's inputs in order: subscription changes, and live events that
    /// could not be queued at once. Leaves its feed when the session ends.
    func manageSubscription() async {
        var patterns: [ChannelPattern] = []
        var feed: LiveFanout.Key?
        defer { if let feed { fanout.detach(self, from: feed) } }
        for await input in inputs {
            switch input {
            case .change(let change):
                guard await apply(change, patterns: &patterns, feed: &feed) else { return }
            case .deferred(let envelope):
                let open = await deliver(envelope)
                state.withLock { $0.deferredEventHandled() }
                guard open else { return }
            }
        }
    }

    /// Applies one change: joins the feed of the new pattern set, and only once it is live leaves
    /// the previous one, so nothing published in between is missed (the overlap is removed by
    /// sequence number); queues the reply; then sends the history of every channel being resumed.
    /// Channels no pattern matches any more are forgotten: subscribing to them again starts live
    /// (or from the `resume` given).
    /// - Returns: `false` once the session is closing.
    private func apply(_ change: Change, patterns: inout [ChannelPattern], feed: inout LiveFanout.Key?) async -> Bool {
        var next = patterns
        var resume: [ChannelName: Int64] = [:]
        let reply: [UInt8]
        switch change {
        case .add(let added, let given, let id):
            let limit = configuration.webSocket.maxPatternsPerSession
            for pattern in added where !next.contains(pattern) {
                next.append(pattern)
                if next.count > limit { break }
            }
            guard next.count <= limit else {
                metrics?.refusedPatterns.increment()
                send(ServerFrame.error(SwitchyardError(
                    .limitExceeded, "a session may be subscribed to at most \(limit) patterns; this subscribe would pass that",
                    details: ["max_patterns": .int(Int64(limit)), "subscribed": .int(Int64(patterns.count))]), id: id))
                return !isClosed
            }
            resume = given
            reply = ServerFrame.subscribed(added, id: id)
        case .remove(let removed, let id):
            next.removeAll { removed.contains($0) }
            reply = ServerFrame.unsubscribed(removed, id: id)
        }
        let wanted = next
        let catchUps = state.withLock { $0.changeStarted(resume: resume, wanted: wanted) }
        let nextFeed = next.isEmpty ? nil : LiveFanout.Key(next)
        if let nextFeed, nextFeed != feed {
            if let failure = await fanout.attach(self, to: next) {
                fanout.detach(self, from: nextFeed)
                state.withLock { $0.changeFailed() }
                send(ServerFrame.error(failure, id: change.id))
                return !isClosed
            }
        }
        if let feed, feed != nextFeed { fanout.detach(self, from: feed) }
        feed = nextFeed
        patterns = next
        carryOut(state.withLock { $0.changeApplied(keeping: wanted, reply: ByteBuffer(bytes: reply)) })
        for resumed in catchUps {
            guard await catchUp(resumed.channel, after: resumed.after) else { return false }
        }
        return !isClosed
    }
}

extension WebSocketSession.Change {
    var id: JSONValue? {
        switch self {
        case .add(_, _, let id), .remove(_, let id): id
        }
    }
}
