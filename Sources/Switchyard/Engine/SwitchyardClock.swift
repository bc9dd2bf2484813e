import Synchronization

/// The time source of a router and an engine: wall time for timestamps, retention, rate limits
/// and idle times, and sleeping for timeouts and backoff.
///
/// Inject a ``ManualClock`` to make a router deterministic (backtests, tests).
public protocol SwitchyardClock: Sendable {
    /// The current time.
    func now() -> Timestamp
    /// Suspends for `duration` of this clock's time.
    /// - Throws: `CancellationError` when the task is cancelled.
    func sleep(for duration: Duration) async throws
}

/// The system's real-time clock, and `ContinuousClock` for sleeping.
public struct SystemClock: SwitchyardClock {
    /// Creates the clock.
    public init() {}

    /// The system's real-time clock.
    public func now() -> Timestamp { Timestamp.now() }

    /// Sleeps for `duration` of this clock's time.
    public func sleep(for duration: Duration) async throws {
        try await ContinuousClock().sleep(for: duration)
    }
}

/// A clock that moves only when told to, waking the sleepers whose time has come.
public final class ManualClock: SwitchyardClock {
    private struct State {
        var now: Int64
        var sleepers: [Int: (deadline: Int64, continuation: CheckedContinuation<Void, any Error>)] = [:]
        var nextToken = 0
    }

    private let state: Mutex<State>

    /// Creates a clock that reads `start`.
    public init(start: Timestamp = Timestamp(unixMilliseconds: 1_767_225_600_000)) {
        state = Mutex(State(now: start.unixMilliseconds))
    }

    /// The time the clock was set to.
    public func now() -> Timestamp {
        Timestamp(unixMilliseconds: state.withLock { $0.now })
    }

    /// Moves the clock forward and wakes every sleeper whose deadline has passed.
    public func advance(by duration: Duration) {
        let due = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            state.now += duration.milliseconds
            if state.sleepers.isEmpty { return [] }
            let now = state.now
            let due = state.sleepers.filter { $0.value.deadline <= now }
            for token in due.keys { state.sleepers[token] = nil }
            return due.values.map(\.continuation)
        }
        for continuation in due { continuation.resume() }
    }

    /// How many tasks are sleeping on this clock.
    public var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    /// Sleeps for `duration` of this clock's time.
    public func sleep(for duration: Duration) async throws {
        let token = state.withLock { state in
            state.nextToken += 1
            return state.nextToken
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let outcome: SleepOutcome = state.withLock { state in
                    if Task.isCancelled { return .cancelled }
                    let deadline = state.now + duration.milliseconds
                    if deadline <= state.now { return .due }
                    state.sleepers[token] = (deadline, continuation)
                    return .waiting
                }
                switch outcome {
                case .waiting: break
                case .due: continuation.resume()
                case .cancelled: continuation.resume(throwing: CancellationError())
                }
            }
        } onCancel: {
            let continuation = state.withLock { $0.sleepers.removeValue(forKey: token)?.continuation }
            continuation?.resume(throwing: CancellationError())
        }
    }

    private enum SleepOutcome { case waiting, due, cancelled }
}
