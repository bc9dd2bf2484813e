import Synchronization

/// Where an idempotent handler remembers the events it has processed.
public protocol ProcessedEventStore: Sendable {
    /// Whether the event was processed and its mark has not expired.
    func wasProcessed(_ eventID: EventID) async throws -> Bool
    /// Remembers the event as processed for `ttl`.
    func markProcessed(_ eventID: EventID, ttl: Duration) async throws
}

/// A processed-event store in memory, expiring marks on the given clock.
public final class InMemoryProcessedEventStore: ProcessedEventStore {
    private let marks = Mutex<[EventID: Int64]>([:])
    private let clock: any SwitchyardClock

    /// Creates a store.
    public init(clock: any SwitchyardClock = SystemClock()) {
        self.clock = clock
    }

    /// Whether a mark for the event exists and has not expired.
    public func wasProcessed(_ eventID: EventID) async throws -> Bool {
        let now = clock.now().unixMilliseconds
        return marks.withLock { marks in
            guard let expiresAt = marks[eventID] else { return false }
            if expiresAt > now { return true }
            marks[eventID] = nil
            return false
        }
    }

    /// Records the mark; expired marks are swept every 1,024 insertions.
    public func markProcessed(_ eventID: EventID, ttl: Duration) async throws {
        let expiresAt = clock.now().unixMilliseconds + ttl.milliseconds
        marks.withLock { marks in
            marks[eventID] = expiresAt
            if marks.count > 1024 && marks.count.isMultiple(of: 1024) {
                let now = clock.now().unixMilliseconds
                marks = marks.filter { $0.value > now }
            }
        }
    }

    /// How many marks are held.
    public var count: Int { marks.withLock { $0.count } }
}

/// Wraps a handler so that an event redelivered within `ttl` of its successful processing is
/// skipped: effectively-once handling on top of at-least-once delivery.
///
/// ```swift
/// let once = IdempotentHandler(store: InMemoryProcessedEventStore(), ttl: .seconds(3600)) { envelope in … }
/// try await router.consume(group: "fills", patterns: [fills], handler: once.callAsFunction)
/// ```
/// Mark and effect are not one transaction: a crash between them repeats the effect once. For
/// exactly-once effects, keep the mark in the same transaction as the effect (the PostgreSQL inbox).
public struct IdempotentHandler: Sendable {
    /// The store of processed event ids.
    public let store: any ProcessedEventStore
    /// How long a processed id is remembered.
    public let ttl: Duration
    private let handler: @Sendable (Envelope) async throws -> Void

    /// Creates the wrapper.
    public init(store: any ProcessedEventStore, ttl: Duration, handler: @escaping @Sendable (Envelope) async throws -> Void) {
        self.store = store
        self.ttl = ttl
        self.handler = handler
    }

    /// Runs the handler unless the event was already processed, then marks it processed.
    public func callAsFunction(_ envelope: Envelope) async throws {
        if try await store.wasProcessed(envelope.eventID) { return }
        try await handler(envelope)
        try await store.markProcessed(envelope.eventID, ttl: ttl)
    }
}
