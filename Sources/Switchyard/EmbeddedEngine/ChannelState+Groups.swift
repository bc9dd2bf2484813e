extension ChannelState {
    mutating func createGroup(_ group: String, start: GroupStart) {
        guard groups[group] == nil else { return }
        groups[group] = GroupState(lastDelivered: start == .newest ? lastID : .zero)
    }

    /// Delivers requeued events first, then entries after the group's last delivered one.
    mutating func deliverNew(to group: String, consumer: String, limit: Int, now: Int64) -> [Delivery] {
        guard limit > 0, var state = groups.removeValue(forKey: group) else { return [] }
        defer { groups[group] = state }
        var deliveries: [Delivery] = []
        while deliveries.count < limit, !state.requeued.isEmpty {
            let (id, envelope) = state.requeued.removeFirst()
            state.pending[id] = GroupState.Pending(consumer: consumer, deliveries: 1, deliveredAt: now)
            state.requeuedPending[id] = envelope
            deliveries.append(Delivery(channel: name, position: id.position, envelope: envelope, deliveries: 1))
        }
        let lastDelivered = state.lastDelivered
        let offset = entries.partitioningIndex { $0.id <= lastDelivered }
        for entry in entries.slice(from: offset, limit: limit - deliveries.count) {
            state.pending[entry.id] = GroupState.Pending(consumer: consumer, deliveries: 1, deliveredAt: now)
            state.lastDelivered = entry.id
            deliveries.append(Delivery(channel: name, position: entry.id.position, envelope: entry.envelope, deliveries: 1))
        }
        return deliveries
    }

    /// `XAUTOCLAIM`: walks the pending list from `cursor`, takes over entries idle long enough,
    /// and removes the ones whose event is gone from the stream.
    mutating func claim(_ request: ClaimRequest, from cursor: EntryID, now: Int64) -> ClaimResult {
        guard var state = groups.removeValue(forKey: request.group) else {
            return ClaimResult(deliveries: [], cursor: .start, deleted: [])
        }
        defer { groups[request.group] = state }
        let minIdle = request.minIdle.milliseconds
        let ids = state.pending.keys.filter { $0 >= cursor }.sorted()
        var deliveries: [Delivery] = []
        var deleted: [StreamPosition] = []
        var examined = 0
        for id in ids {
            if deliveries.count >= request.count || examined >= request.count * 10 {
                return ClaimResult(deliveries: deliveries, cursor: id.position, deleted: deleted)
            }
            examined += 1
            guard var pending = state.pending[id], now - pending.deliveredAt >= minIdle else { continue }
            guard let envelope = state.requeuedPending[id] ?? entry(id)?.envelope else {
                state.pending[id] = nil
                deleted.append(id.position)
                continue
            }
            pending.consumer = request.consumer
            pending.deliveries += 1
            pending.deliveredAt = now
            state.pending[id] = pending
            deliveries.append(Delivery(channel: name, position: id.position, envelope: envelope, deliveries: pending.deliveries))
        }
        return ClaimResult(deliveries: deliveries, cursor: .start, deleted: deleted)
    }

    mutating func nextDeadLetterID(at milliseconds: Int64) -> EntryID {
        lastDeadLetterID = lastDeadLetterID.successor(at: milliseconds)
        return lastDeadLetterID
    }

    /// Moves dead letters back to their groups, each with a new id; returns how many moved.
    mutating func requeue(_ ids: Set<StreamPosition>, now: Int64) -> Int {
        var moved = 0
        var kept: [DeadLetter] = []
        for letter in deadLetters {
            guard ids.contains(letter.id), groups[letter.group] != nil else {
                kept.append(letter)
                continue
            }
            groups[letter.group]!.requeued.append((nextID(at: now), letter.envelope))
            moved += 1
        }
        deadLetters = kept
        return moved
    }
}
