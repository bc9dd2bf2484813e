import JSONSchema

/// An event already sequenced elsewhere (by a log-backed engine that keeps its index in an
/// embedded engine), stored exactly as given.
package struct RestoredEvent: Sendable {
    package var envelope: Envelope
    package var id: EntryID
    /// The channel's retention in milliseconds.
    package var retention: Int64
    /// Whether the channel keeps a stream entry (`delivery: durable`), or only its sequence and latest state.
    package var durable: Bool

    package init(envelope: Envelope, id: EntryID, retention: Int64, durable: Bool) {
        self.envelope = envelope
        self.id = id
        self.retention = retention
        self.durable = durable
    }
}

/// The index side of the embedded engine: how an engine that keeps its events in a log elsewhere
/// (Kafka) uses this one for reads, groups, claims, dead letters, live notification and retention,
/// while it assigns sequence numbers and ids itself.
extension EmbeddedEngine {
    /// Takes the next stream ids of a channel, one per timestamp, as an append would; the channel's
    /// requeued dead letters draw from the same ids, so the two never collide.
    package func reserveIDs(on channel: ChannelName, at milliseconds: [Int64]) -> [EntryID] {
        state.withLock { state in
            milliseconds.map { state.channels[channel, default: ChannelState(name: channel)].nextID(at: $0) }
        }
    }

    /// The channel's last sequence number and last id, or `nil` for a channel it does not hold.
    package func tail(of channel: ChannelName) -> (sequenceNumber: Int64, id: EntryID)? {
        state.withLock { state in state.channels[channel].map { ($0.lastSequence, $0.lastID) } }
    }

    /// Stores events in order with the sequence numbers and ids they carry, skipping those at or
    /// below the channel's last sequence number; notifies live subscribers and parked group readers,
    /// sets the latest state and trims as an append does. Returns how many were stored.
    @discardableResult
    package func restore(_ events: [RestoredEvent]) -> Int {
        let now = clock.now().unixMilliseconds
        let hardCap = configuration.maxEntriesPerChannel
        let (stored, wake, capped) = state.withLock { state in
            var stored = 0
            var wake: [CheckedContinuation<Void, Never>] = []
            var capped: [(ChannelName, Int)] = []
            for event in events {
                let name = event.envelope.channel
                var channel = state.channels.removeValue(forKey: name) ?? ChannelState(name: name)
                // New to readers until its first event, even when ids were reserved for it.
                let isNew = channel.lastSequence == 0
                guard event.envelope.sequenceNumber > channel.lastSequence else {
                    state.channels[name] = channel
                    continue
                }
                channel.lastSequence = event.envelope.sequenceNumber
                if event.id > channel.lastID { channel.lastID = event.id }
                channel.retentionMilliseconds = event.retention
                if event.durable {
                    channel.entries.append(ChannelState.Entry(id: event.id, envelope: event.envelope))
                    let undelivered = channel.trim(now: now, hardCap: hardCap)
                    if undelivered > 0 { capped.append((name, undelivered)) }
                }
                channel.latest = (event.envelope, event.id.milliseconds &+ event.retention)
                state.channels[name] = channel
                stored += 1
                if !state.subscribers.isEmpty { state.notifySubscribers(event.envelope) }
                if !state.waiters.isEmpty { wake += state.signalWaiters(on: name, isNew: isNew) }
            }
            return (stored, wake, capped)
        }
        for continuation in wake { continuation.resume() }
        if !capped.isEmpty { report(capped) }
        return stored
    }

    /// Creates a group on a channel at a position, the last entry it counts as delivered, unless
    /// the group exists: one that does keeps its position (two creations racing must not move a
    /// group back over entries it was delivered meanwhile).
    package func restoreGroup(_ group: String, on channel: ChannelName, lastDelivered: EntryID) {
        state.withLock { state in
            var stream = state.channels[channel] ?? ChannelState(name: channel)
            if stream.groups[group] == nil { stream.groups[group] = GroupState(lastDelivered: lastDelivered) }
            state.channels[channel] = stream
        }
    }

    /// Where each group of a channel stands: the lowest stream entry it has pending (requeued dead
    /// letters, which are not stream entries, aside) and the last entry it was delivered. Every
    /// entry below the lowest pending one, and at or below the last delivered one, is done.
    package func groupPositions(on channel: ChannelName) -> [String: (lowestPending: EntryID?, lastDelivered: EntryID)] {
        state.withLock { state in
            guard let stream = state.channels[channel] else { return [:] }
            return stream.groups.mapValues { group in
                let lowest = group.pending.keys.filter { group.requeuedPending[$0] == nil }.min()
                return (lowest, group.lastDelivered)
            }
        }
    }

    /// The channel's oldest stored entry, or `nil` when it holds none.
    package func firstEntry(on channel: ChannelName) -> (id: EntryID, sequenceNumber: Int64)? {
        state.withLock { state in state.channels[channel]?.entries.first.map { ($0.id, $0.envelope.sequenceNumber) } }
    }

    /// The ids of the channel's stored entries with their sequence numbers, oldest first.
    package func entryIDs(on channel: ChannelName) -> [(id: EntryID, sequenceNumber: Int64)] {
        state.withLock { state in
            guard let stream = state.channels[channel] else { return [] }
            return stream.entries.slice(from: 0, limit: stream.entries.count).map { ($0.id, $0.envelope.sequenceNumber) }
        }
    }

    /// Adds a dead letter with the id it carries, and removes the entry it came from from its
    /// group's pending list.
    package func restoreDeadLetter(_ letter: DeadLetter, on channel: ChannelName, pendingPosition: StreamPosition?) {
        state.withLock { state in
            var stream = state.channels[channel] ?? ChannelState(name: channel)
            if let id = EntryID(letter.id), id > stream.lastDeadLetterID { stream.lastDeadLetterID = id }
            if !stream.deadLetters.contains(where: { $0.id == letter.id }) { stream.deadLetters.append(letter) }
            if let position = pendingPosition, let id = EntryID(position) {
                stream.groups[letter.group]?.pending[id] = nil
                stream.groups[letter.group]?.requeuedPending[id] = nil
            }
            state.channels[channel] = stream
        }
    }

    /// The next dead-letter id of a channel for a letter written at `milliseconds`.
    package func nextDeadLetterID(on channel: ChannelName, at milliseconds: Int64) -> EntryID {
        state.withLock { state in
            state.channels[channel, default: ChannelState(name: channel)].nextDeadLetterID(at: milliseconds)
        }
    }

    /// The ids among `ids` that ``requeueDeadLetters(_:ids:)`` would move: dead letters of the
    /// channel whose group still exists.
    package func requeuableDeadLetters(_ channel: ChannelName, ids: [StreamPosition]) -> [StreamPosition] {
        let wanted = Set(ids)
        return state.withLock { state in
            guard let stream = state.channels[channel] else { return [] }
            return stream.deadLetters.filter { wanted.contains($0.id) && stream.groups[$0.group] != nil }.map(\.id)
        }
    }

    /// Sets a state key to a value that expires at an absolute time (Unix milliseconds), or never.
    package func restoreState(_ key: StateKey, json: String, expiresAt: Int64?) {
        state.withLock { $0.stateKeys[key] = StateSlot(json: json, expiresAt: expiresAt) }
    }

    /// The engine's clock, in Unix milliseconds.
    package var nowMilliseconds: Int64 { clock.now().unixMilliseconds }
}
