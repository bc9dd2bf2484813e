import Logging
import PostgresNIO
import Synchronization

/// The relay's connection, on which no query can wait without a bound.
///
/// Each query returns its rows, or fails: when the connection closes (even if PostgresNIO never
/// fails the query itself, which happens to a query sent while the server's restart tears the
/// connection down), when it has not answered within the timeout (the connection is then
/// closed), or when the calling task is cancelled (likewise).
final class RelayConnection: Sendable {
    let connection: PostgresConnection
    let timeout: Duration
    let logger: Logger
    /// The queries waiting now, failed together when the connection closes.
    private let waiting = Mutex<(next: Int, queries: [Int: Once])>((0, [:]))

    init(connection: PostgresConnection, timeout: Duration, logger: Logger) {
        self.connection = connection
        self.timeout = timeout
        self.logger = logger
        connection.closeFuture.whenComplete { _ in
            for once in self.takeAllWaiting() { once.take()?.resume(throwing: RelayConnectionLost()) }
        }
    }

    /// Runs one query and collects its rows.
    /// - Throws: The query's error, ``RelayConnectionLost``, ``RelayStalled`` or `CancellationError`.
    @discardableResult
    func query(_ query: PostgresQuery) async throws -> [PostgresRow] {
        let once = Once()
        let connection = self.connection
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[PostgresRow], any Error>) in
                guard once.set(continuation) else { return }
                let key = register(once)
                // Closed before it was registered: the close callback has run already.
                if connection.isClosed { once.take()?.resume(throwing: RelayConnectionLost()) }
                let timer = connection.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
                    guard let stalled = once.take() else { return }
                    self.logger.warning("relay query stalled; closing the connection", metadata: ["timeout": "\(self.timeout)"])
                    Self.closeNow(connection)
                    stalled.resume(throwing: RelayStalled(timeout: self.timeout))
                }
                let result: EventLoopFuture<PostgresQueryResult> = connection.query(query, logger: logger)
                result.whenComplete { outcome in
                    timer.cancel()
                    self.unregister(key)
                    once.take()?.resume(with: outcome.map(\.rows))
                }
            }
        } onCancel: {
            guard let cancelled = once.take() else { return }
            Self.closeNow(connection)
            cancelled.resume(throwing: CancellationError())
        }
    }

    private func register(_ once: Once) -> Int {
        waiting.withLock { state in
            state.next += 1
            state.queries[state.next] = once
            return state.next
        }
    }

    private func unregister(_ key: Int) {
        waiting.withLock { _ = $0.queries.removeValue(forKey: key) }
    }

    private func takeAllWaiting() -> [Once] {
        waiting.withLock { state in
            defer { state.queries = [:] }
            return Array(state.queries.values)
        }
    }

    /// Starts closing the connection without waiting for it.
    static func closeNow(_ connection: PostgresConnection) {
        let closing: EventLoopFuture<Void> = connection.close()
        closing.whenComplete { _ in }
    }

    /// Resumes a continuation once, from whichever of the query, the close, the timer and the
    /// cancellation comes first.
    final class Once: Sendable {
        private let state = Mutex<(done: Bool, continuation: CheckedContinuation<[PostgresRow], any Error>?)>((false, nil))

        /// Stores the continuation and returns `true`, or resumes it with `CancellationError` and
        /// returns `false` when the task was cancelled before.
        func set(_ continuation: CheckedContinuation<[PostgresRow], any Error>) -> Bool {
            let early = state.withLock { state -> Bool in
                if state.done { return true }
                state.continuation = continuation
                return false
            }
            if early { continuation.resume(throwing: CancellationError()) }
            return !early
        }

        /// Marks the outcome known without a continuation to resume.
        func claim() { state.withLock { $0.done = true } }

        /// The continuation, to the first caller only.
        func take() -> CheckedContinuation<[PostgresRow], any Error>? {
            state.withLock { state in
                if state.done && state.continuation == nil { return nil }
                state.done = true
                defer { state.continuation = nil }
                return state.continuation
            }
        }
    }
}

/// The relay's connection closed while a query waited on it.
struct RelayConnectionLost: Error, CustomStringConvertible {
    var description: String { "the relay's PostgreSQL connection closed" }
}

/// The relay gave up a connection on which a query ran longer than its query timeout.
struct RelayStalled: Error, CustomStringConvertible {
    var timeout: Duration
    var description: String { "a PostgreSQL query of the relay took longer than \(timeout); the connection was closed" }
}
