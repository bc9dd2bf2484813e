import JSONSchema

extension EmbeddedEngine {
    /// Creates the group, and the channel's state if there is none.
    public func createGroup(_ group: String, on channel: ChannelName, start: GroupStart) async throws(SwitchyardError) {
        let wake = state.withLock { state in
            let isNew = state.channels.index(forKey: channel) == nil
            state.channels[channel, default: ChannelState(name: channel)].createGroup(group, start: start)
            return isNew ? state.signalWaiters(on: channel, isNew: true) : []
        }
        for continuation in wake { continuation.resume() }
    }

    /// Delivers new entries; when there are none, parks without polling until an append to one of the channels, a new channel matching `watching`, the timeout, or cancellation.
    public func readGroup(_ request: GroupReadRequest) async throws(SwitchyardError) -> [Delivery] {
        let first = try deliver(request, registeringWaiter: request.block != nil)
        guard first.deliveries.isEmpty, let waiter = first.waiter, let block = request.block else { return first.deliveries }
        await waitForSignal(waiter, timeout: block)
        return try deliver(request, registeringWaiter: false).deliveries
    }

    /// Delivers what there is; when nothing and asked to, registers a waiter under the same lock,
    /// so an append right after cannot be missed.
    private func deliver(_ request: GroupReadRequest, registeringWaiter: Bool) throws(SwitchyardError) -> (deliveries: [Delivery], waiter: Int?) {
        let now = clock.now().unixMilliseconds
        return try state.withLock { state throws(SwitchyardError) in
            var deliveries: [Delivery] = []
            let share = max(1, request.count / max(1, request.channels.count))
            for pass in 0..<2 {
                for channel in request.channels where deliveries.count < request.count {
                    guard state.channels[channel]?.groups[request.group] != nil else {
                        throw SwitchyardError(.groupNotFound, "group '\(request.group)' does not exist on channel '\(channel)'")
                    }
                    let room = request.count - deliveries.count
                    let limit = pass == 0 ? min(share, room) : room
                    deliveries += state.channels[channel]!.deliverNew(to: request.group, consumer: request.consumer, limit: limit, now: now)
                }
                if deliveries.count >= request.count || request.channels.count < 2 { break }
            }
            guard deliveries.isEmpty, registeringWaiter else { return (deliveries, nil) }
            if !request.watching.isEmpty {
                let reading = Set(request.channels)
                let unseen = state.channels.keys.contains { name in
                    !reading.contains(name) && request.watching.contains { $0.matches(name) }
                }
                if unseen { return (deliveries, nil) }
            }
            let token = state.token()
            state.waiters[token] = EmbeddedEngineState.Waiter(channels: Set(request.channels), patterns: request.watching)
            return (deliveries, token)
        }
    }

    /// Parks until the waiter is signalled by an append, the timeout passes on the engine's clock,
    /// or the task is cancelled.
    private func waitForSignal(_ token: Int, timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [clock] in
                try? await clock.sleep(for: timeout)
                self.signal(token)
            }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let resumeNow = state.withLock { state in
                        guard let waiter = state.waiters[token], !waiter.signalled else {
                            state.waiters[token] = nil
                            return true
                        }
                        state.waiters[token]!.continuation = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            } onCancel: {
                self.signal(token)
            }
            group.cancelAll()
        }
    }

    private func signal(_ token: Int) {
        let continuation = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiters[token] else { return nil }
            if let continuation = waiter.continuation {
                state.waiters[token] = nil
                return continuation
            }
            state.waiters[token]!.signalled = true
            return nil
        }
        continuation?.resume()
    }

    /// Removes entries from the group's pending list.
    public func ack(_ group: String, on channel: ChannelName, positions: [StreamPosition]) async throws(SwitchyardError) -> Int {
        state.withLock { state in
            guard state.channels[channel]?.groups[group] != nil else { return 0 }
            var acked = 0
            for position in positions {
                guard let id = EntryID(position) else { continue }
                if state.channels[channel]!.groups[group]!.pending.removeValue(forKey: id) != nil { acked += 1 }
                state.channels[channel]!.groups[group]!.requeuedPending[id] = nil
            }
            return acked
        }
    }

    /// `XAUTOCLAIM` semantics: idle entries change owner and count one more delivery; trimmed ones are dropped and listed in ``ClaimResult/deleted``.
    public func claim(_ request: ClaimRequest) async throws(SwitchyardError) -> ClaimResult {
        let now = clock.now().unixMilliseconds
        return try state.withLock { state throws(SwitchyardError) in
            guard state.channels[request.channel]?.groups[request.group] != nil else {
                throw SwitchyardError(.groupNotFound, "group '\(request.group)' does not exist on channel '\(request.channel)'")
            }
            guard let cursor = EntryID(request.cursor) else { throw Self.invalidPosition(.after(request.cursor)) }
            return state.channels[request.channel]!.claim(request, from: cursor, now: now)
        }
    }

    /// Pending entries per consumer and the group's lag.
    public func groupInfo(_ group: String, on channel: ChannelName) async throws(SwitchyardError) -> GroupInfo {
        let now = clock.now().unixMilliseconds
        return try state.withLock { state throws(SwitchyardError) in
            guard let stream = state.channels[channel], let groupState = stream.groups[group] else {
                throw SwitchyardError(.groupNotFound, "group '\(group)' does not exist on channel '\(channel)'")
            }
            var byConsumer: [String: Int] = [:]
            for pending in groupState.pending.values { byConsumer[pending.consumer, default: 0] += 1 }
            let undelivered = stream.entries.count - stream.entries.partitioningIndex { $0.id <= groupState.lastDelivered }
            let oldest = groupState.pending.min { $0.key < $1.key }.map { Duration.milliseconds(max(0, now - $0.value.deliveredAt)) }
            return GroupInfo(
                group: group, channel: channel, pending: groupState.pending.count, pendingByConsumer: byConsumer,
                lag: undelivered + groupState.requeued.count, oldestPendingIdle: oldest)
        }
    }

    /// Appends to the channel's dead letters and acks the entry.
    public func deadLetter(_ request: DeadLetterRequest) async throws(SwitchyardError) {
        let now = clock.now().unixMilliseconds
        state.withLock { state in
            let channel = request.delivery.channel
            let id = state.channels[channel, default: ChannelState(name: channel)].nextDeadLetterID(at: now)
            let letter = DeadLetter(
                id: id.position, envelope: request.delivery.envelope, group: request.group, error: request.error,
                deliveries: request.deliveries, failedAt: Timestamp(unixMilliseconds: now))
            state.channels[channel]!.deadLetters.append(letter)
            if let pendingID = EntryID(request.delivery.position) {
                state.channels[channel]!.groups[request.group]?.pending[pendingID] = nil
                state.channels[channel]!.groups[request.group]?.requeuedPending[pendingID] = nil
            }
        }
    }

    /// The channel's dead letters, oldest first.
    public func deadLetters(_ channel: ChannelName, limit: Int) async throws(SwitchyardError) -> [DeadLetter] {
        state.withLock { Array(($0.channels[channel]?.deadLetters ?? []).prefix(limit)) }
    }

    /// Queues the dead letters for their group's next read, each with a new position; dead letters of a group that no longer exists stay.
    public func requeueDeadLetters(_ channel: ChannelName, ids: [StreamPosition]) async throws(SwitchyardError) -> Int {
        let now = clock.now().unixMilliseconds
        let (count, wake) = state.withLock { state -> (Int, [CheckedContinuation<Void, Never>]) in
            guard state.channels[channel] != nil else { return (0, []) }
            let count = state.channels[channel]!.requeue(Set(ids), now: now)
            return (count, count > 0 ? state.signalWaiters(on: channel, isNew: false) : [])
        }
        for continuation in wake { continuation.resume() }
        return count
    }

    /// Removes dead letters.
    public func dropDeadLetters(_ channel: ChannelName, ids: [StreamPosition]) async throws(SwitchyardError) -> Int {
        let wanted = Set(ids)
        return state.withLock { state in
            guard let before = state.channels[channel]?.deadLetters.count else { return 0 }
            state.channels[channel]!.deadLetters.removeAll { wanted.contains($0.id) }
            return before - state.channels[channel]!.deadLetters.count
        }
    }
}
