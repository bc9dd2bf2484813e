import NIOCore
import Switchyard

/// What one WebSocket session sends and when, free of I/O: which event is the next of its
/// channel, which waits for the subscription task, which is a duplicate, when a drain must be
/// scheduled, and when the client is too slow to keep.
///
/// The session feeds it events (a live event arrived, a subscription change started or ended, the
/// drain asked for its next frame, the session is closing) and carries out the actions it returns.
///
/// Per channel it queues events in sequence order, each at most once. Live events wait (are
/// deferred to the subscription task) while a subscription change is under way or while earlier
/// ones still wait, so a resumed channel's catch-up and the live feed meet without a gap and
/// without a duplicate.
struct SessionDeliveryState {
    /// Why and how the session ends.
    struct Close: Equatable {
        let code: UInt16
        let reason: String

        /// A close whose reason is cut to 120 bytes, the most a close frame's reason may carry here.
        init(code: UInt16, reason: String) {
            self.code = code
            self.reason = String(reason.utf8.prefix(120)) ?? ""
        }
    }

    /// What ``admit(channel:sequence:conflatable:frame:onJump:)`` does with an event that is not
    /// the next of its channel.
    enum Jump {
        /// Leave it (and, while anything waits, every live event) to the subscription task.
        case deferToTask
        /// Report the last sequence queued, for the caller to fill the jump from the stream.
        case reportFill
        /// Announce the missing range with a `gap` frame and queue the event after it.
        case announceGap
    }

    enum AdmitAction: Equatable {
        /// The event is queued; when `scheduleDrain`, the caller schedules a drain.
        case queued(scheduleDrain: Bool)
        /// A duplicate (its sequence was already queued), or a live event after the close: nothing to do.
        case dropped
        /// The caller hands the event to the subscription task, which admits it again with ``Jump/reportFill``.
        case deferToTask
        /// The caller reads the channel's events after `after` from the stream, admits them with
        /// ``Jump/announceGap``, then admits this one again the same way.
        case fill(after: Int64)
        /// The session is closed: the caller stops delivering.
        case closed
        /// The event did not fit: the session is now closed as a slow consumer; the caller ends it.
        case closeSlowConsumer(Close)

        /// Whether the session is closing, and the caller stops delivering.
        var isClosing: Bool {
            switch self {
            case .closed, .closeSlowConsumer: true
            case .queued, .dropped, .deferToTask, .fill: false
            }
        }
    }

    enum FrameAction: Equatable {
        /// Nothing to do: the frame is queued behind a drain already scheduled, or the session is closed.
        case none
        /// The frame is queued; the caller schedules a drain.
        case scheduleDrain
        /// The frame did not fit: the session is now closed as a slow consumer; the caller ends it.
        case closeSlowConsumer(Close)
    }

    /// A resumed channel whose stored events after `after` the caller sends once the change is applied.
    struct CatchUp: Equatable {
        let channel: ChannelName
        let after: Int64
    }

    private var queue: SessionQueue
    /// The last sequence number queued (or, for a resumed channel, seen by the client).
    private var lastSent: [ChannelName: Int64] = [:]
    private(set) var close: Close?
    /// A drain of the queue is waiting to run (or running) on the connection's event loop.
    private var drainScheduled = false
    /// The channels resumed by the subscription change under way, with their resume points; `nil`
    /// when no change is under way. While one is, live events wait in the inputs until its reply is queued.
    private var changing: [ChannelName: Int64]?
    /// Live events waiting in the inputs; while any wait, newer ones wait behind them.
    private var deferred = 0
    /// The most live events that may wait in the inputs before the session is closed as a slow consumer.
    let deferredLimit: Int

    /// Creates the state of a session whose queue holds at most `queueLimit` frames.
    /// - Parameters:
    ///   - queueLimit: The most frames waiting to be sent; less than 1 counts as 1.
    ///   - onConflated: Told how many events of a channel a conflation dropped.
    init(queueLimit: Int, onConflated: (@Sendable (ChannelName, Int) -> Void)? = nil) {
        queue = SessionQueue(limit: queueLimit, onConflated: onConflated)
        deferredLimit = 4 * max(64, queueLimit)
    }

    var isClosed: Bool { close != nil }

    // MARK: Events

    /// An event the principal may read: queues it when it is the next of its channel (or the
    /// first the session sees there), or handles the jump as `jump` says.
    mutating func admit(channel: ChannelName, sequence: Int64, conflatable: Bool, frame: ByteBuffer, onJump jump: Jump) -> AdmitAction {
        if jump == .deferToTask {
            guard close == nil else { return .dropped }
            if changing != nil || deferred > 0 { return deferLive(channel) }
        }
        guard close == nil else { return .closed }
        if let last = lastSent[channel] {
            if sequence <= last { return .dropped }
            if sequence > last + 1 {
                switch jump {
                case .deferToTask:
                    return deferLive(channel)
                case .reportFill:
                    return .fill(after: last)
                case .announceGap:
                    let gap = ByteBuffer(bytes: ServerFrame.gap(channel, from: last + 1, to: sequence - 1))
                    guard queue.push(.control(gap)) else { return .closeSlowConsumer(overflow("queue full at \(channel.rawValue)")) }
                }
            }
        }
        guard queue.push(.event(channel: channel, conflatable: conflatable, bytes: frame)) else {
            return .closeSlowConsumer(overflow("queue full at \(channel.rawValue)"))
        }
        lastSent[channel] = sequence
        return .queued(scheduleDrain: requestDrain())
    }

    /// The subscription task is done with a deferred event.
    mutating func deferredEventHandled() {
        deferred -= 1
    }

    private mutating func deferLive(_ channel: ChannelName) -> AdmitAction {
        deferred += 1
        guard deferred <= deferredLimit else { return .closeSlowConsumer(overflow("events wait at \(channel.rawValue)")) }
        return .deferToTask
    }

    /// A control frame (a reply, an error) to send.
    mutating func queueControl(_ frame: ByteBuffer) -> FrameAction {
        guard close == nil else { return .none }
        guard queue.push(.control(frame)) else { return .closeSlowConsumer(overflow("the client does not read its replies")) }
        return requestDrain() ? .scheduleDrain : .none
    }

    /// The heartbeat interval passed: a heartbeat is queued only when nothing else waits.
    mutating func heartbeatDue() -> FrameAction {
        guard close == nil, queue.count == 0 else { return .none }
        return queueControl(ByteBuffer(bytes: ServerFrame.heartbeat))
    }

    // MARK: Subscription changes

    /// A subscription change starts: live events wait until ``changeApplied(keeping:reply:)`` or
    /// ``changeFailed()``. Each resumed channel the session does not know yet and one of `wanted`
    /// matches counts as sent up to its resume point.
    /// - Returns: The catch-ups to run once the change is applied, in channel order.
    mutating func changeStarted(resume: [ChannelName: Int64], wanted: [ChannelPattern]) -> [CatchUp] {
        var resumed: [ChannelName: Int64] = [:]
        for (channel, last) in resume where lastSent[channel] == nil && wanted.contains(where: { $0.matches(channel) }) {
            lastSent[channel] = last
            resumed[channel] = last
        }
        changing = resumed
        return resumed.sorted { $0.key < $1.key }.map { CatchUp(channel: $0.key, after: $0.value) }
    }

    /// The change could not be made (its feed failed to attach): its resume points are forgotten,
    /// and live events flow again.
    mutating func changeFailed() {
        for channel in (changing ?? [:]).keys { lastSent[channel] = nil }
        changing = nil
    }

    /// The change is live: channels no pattern of `wanted` matches are forgotten, the reply is
    /// queued ahead of every live event that waited, and live events flow again.
    mutating func changeApplied(keeping wanted: [ChannelPattern], reply: ByteBuffer) -> FrameAction {
        lastSent = lastSent.filter { entry in wanted.contains { $0.matches(entry.key) } }
        let action = queueControl(reply)
        changing = nil
        return action
    }

    // MARK: Drain

    /// The drain, on the event loop, asks for the next frame to write.
    /// - Returns: The frame, or `nil` when nothing waits or the session is closed: the drain ends,
    ///   and the next frame queued schedules another.
    mutating func nextFrame() -> ByteBuffer? {
        if close == nil, let frame = queue.pop() { return frame }
        drainScheduled = false
        return nil
    }

    /// The drain found the connection inactive and ended.
    mutating func drainEnded() {
        drainScheduled = false
    }

    // MARK: Close

    /// Closes the session; the first close wins.
    /// - Returns: Whether this close was the first.
    mutating func close(code: UInt16, reason: String) -> Bool {
        guard close == nil else { return false }
        close = Close(code: code, reason: reason)
        return true
    }

    private mutating func requestDrain() -> Bool {
        guard close == nil, !drainScheduled else { return false }
        drainScheduled = true
        return true
    }

    private mutating func overflow(_ what: String) -> Close {
        let close = Close(code: WebSocketCloseCode.slowConsumer, reason: "slow consumer: \(what); reconnect and resume")
        self.close = close
        return close
    }
}
