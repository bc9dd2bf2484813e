/// A state key's value in the embedded engine, and when it expires on the engine's clock.
struct StateSlot {
    var json: String
    /// Unix milliseconds; `nil` for no expiry.
    var expiresAt: Int64?
}

extension EmbeddedEngineState {
    mutating func setState(_ assignment: StateAssignment, now: Int64) {
        stateKeys[assignment.key] = StateSlot(json: assignment.json, expiresAt: assignment.ttl.map { now &+ max(1, $0.milliseconds) })
    }

    /// Drops the values whose TTL has passed.
    mutating func expireStateKeys(now: Int64) {
        guard stateKeys.values.contains(where: { $0.expiresAt.map { $0 <= now } ?? false }) else { return }
        stateKeys = stateKeys.filter { $0.value.expiresAt.map { $0 > now } ?? true }
    }
}

extension EmbeddedEngine {
    /// Sets the key in memory; it expires on the engine's clock, so a backtest's ``ManualClock`` expires it.
    public func setState(_ assignment: StateAssignment) async throws(SwitchyardError) {
        let now = clock.now().unixMilliseconds
        state.withLock { $0.setState(assignment, now: now) }
    }

    /// The key's value and remaining TTL; `nil` once the TTL has passed on the engine's clock.
    public func state(_ key: StateKey) async throws(SwitchyardError) -> StoredState? {
        let now = clock.now().unixMilliseconds
        return state.withLock { state in
            guard let slot = state.stateKeys[key] else { return nil }
            guard let expiresAt = slot.expiresAt else { return StoredState(json: slot.json, remaining: nil) }
            guard expiresAt > now else { return nil }
            return StoredState(json: slot.json, remaining: .milliseconds(expiresAt - now))
        }
    }

    /// Appends the event and sets the key under one lock, the key only when the event is stored.
    public func append(_ request: AppendRequest, then assignment: StateAssignment) async throws(SwitchyardError) -> PublishReceipt {
        try appendNow([request], then: assignment)[0]
    }
}
