import Synchronization

/// A bounded, thread-safe memo of values made from recent keys, forgetting the oldest key first.
///
/// Fan-out paths use it so that work done for one event (decoding a message, serializing a frame)
/// is done once however many subscribers receive the event: the first asker makes the value, the
/// others find it. When two askers race on a new key both may make it; the first value stored wins
/// and is what later askers get.
package final class RecentValues<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Storage {
        var values: [Key: Value] = [:]
        var order: [Key?]
        var next = 0
    }

    private let storage: Mutex<Storage>

    /// - Parameter capacity: How many keys are kept (at least one).
    package init(capacity: Int) {
        storage = Mutex(Storage(order: Array(repeating: nil, count: max(1, capacity))))
    }

    /// The value kept for `key`, or the one `make` returns, which is then kept.
    ///
    /// `make` runs outside the lock, so a slow one holds up no other key.
    package func value(for key: Key, orMake make: () -> Value) -> Value {
        if let cached = cached(key) { return cached }
        return keep(make(), for: key)
    }

    /// The value kept for `key`, or the one `make` returns, which is kept unless it is `nil`.
    package func value(for key: Key, orMakeIfValid make: () -> Value?) -> Value? {
        if let cached = cached(key) { return cached }
        guard let made = make() else { return nil }
        return keep(made, for: key)
    }

    private func cached(_ key: Key) -> Value? {
        storage.withLock { $0.values[key] }
    }

    private func keep(_ made: Value, for key: Key) -> Value {
        storage.withLock { storage in
            if let stored = storage.values[key] { return stored }
            if let evicted = storage.order[storage.next] { storage.values[evicted] = nil }
            storage.order[storage.next] = key
            storage.next = (storage.next + 1) % storage.order.count
            storage.values[key] = made
            return made
        }
    }
}
