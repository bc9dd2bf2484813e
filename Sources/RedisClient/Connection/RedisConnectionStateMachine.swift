import NIOCore
import RESP

/// The protocol logic of one connection, free of I/O: which reply belongs to which command, what
/// is a push, and what fails when the connection ends.
///
/// The channel handler feeds it events and carries out the actions it returns.
struct RedisConnectionStateMachine<Pending> {
    enum State {
        case active
        case closed(RedisError)
    }

    enum EnqueueAction {
        case write
        case fail(RedisError)
    }

    enum ReplyAction {
        case deliver(Pending, RESPValue)
        case push(RESPValue)
        case closeAndFail(RedisError, [Pending])
    }

    enum TimerAction {
        case none
        case rearm(NIODeadline)
        case closeAndFail(RedisError, [Pending])
    }

    private(set) var state: State = .active
    /// Commands in flight, oldest first; a pipeline is one element awaiting `count` replies, and a
    /// subscribe command one awaiting `count` confirmations (pushes) or one error reply.
    private var queue = CircularBuffer<(pending: Pending, count: Int, deadline: NIODeadline, confirmations: Bool)>(
        initialCapacity: 16
    )
    /// On RESP2, a connection in subscriber mode gets pub/sub events as plain arrays.
    var isSubscriberMode = false

    var inFlight: Int { self.queue.count }
    var oldestDeadline: NIODeadline? { self.queue.first?.deadline }

    mutating func enqueue(_ pending: Pending, count: Int = 1, deadline: NIODeadline, confirmations: Bool = false) -> EnqueueAction {
        switch self.state {
        case .active:
            self.queue.append((pending, count, deadline, confirmations))
            return .write
        case .closed(let error):
            return .fail(error)
        }
    }

    mutating func received(_ value: RESPValue) -> ReplyAction {
        if Self.isPush(value, subscriberMode: self.isSubscriberMode) {
            if let head = self.queue.first, head.confirmations, Self.isSubscribeConfirmation(value) {
                if head.count > 1 {
                    self.queue[self.queue.startIndex].count -= 1
                    return .push(value)
                }
                self.queue.removeFirst()
                return .deliver(head.pending, value)
            }
            return .push(value)
        }
        guard case .active = self.state else { return .closeAndFail(RedisError(.connectionClosed), []) }
        guard let head = self.queue.first else {
            let error = RedisError(.unexpectedResponse, serverMessage: "a reply arrived with no command in flight")
            return .closeAndFail(error, self.close(with: error))
        }
        if head.count > 1 && !head.confirmations {
            self.queue[self.queue.startIndex].count -= 1
        } else {
            self.queue.removeFirst()
        }
        return .deliver(head.pending, value)
    }

    /// Closes the state machine and returns every pending command, to be failed with `error`.
    mutating func close(with error: RedisError) -> [Pending] {
        if case .closed = self.state { return [] }
        self.state = .closed(error)
        let pending = self.queue.map(\.pending)
        self.queue.removeAll()
        return pending
    }

    mutating func timerFired(now: NIODeadline) -> TimerAction {
        guard case .active = self.state, let head = self.queue.first else { return .none }
        if head.deadline <= now {
            let error = RedisError(.timeout)
            return .closeAndFail(error, self.close(with: error))
        }
        return .rearm(head.deadline)
    }

    private static func isSubscribeConfirmation(_ value: RESPValue) -> Bool {
        guard let kind = value.elements?.first?.bytes else { return false }
        return subscribeKinds.contains(String(buffer: kind).lowercased())
    }

    private static func isPush(_ value: RESPValue, subscriberMode: Bool) -> Bool {
        switch value {
        case .push:
            return true
        case .array(let elements) where subscriberMode:
            guard let kind = elements.first?.bytes else { return false }
            return pubSubKinds.contains(String(buffer: kind).lowercased())
        default:
            return false
        }
    }

}

private let subscribeKinds: Set<String> = ["subscribe", "psubscribe", "ssubscribe"]

private let pubSubKinds: Set<String> = [
    "message", "pmessage", "smessage", "subscribe", "psubscribe", "ssubscribe",
    "unsubscribe", "punsubscribe", "sunsubscribe",
]
