import HummingbirdWebSocket
import NIOCore
import NIOWebSocket
import JSONSchema
import Logging
import ServiceLifecycle
import Switchyard
import Synchronization

/// One `/v1/ws` connection: reads the client's frames, runs its subscription, and sends events
/// through a bounded queue (see docs/websocket.md).
///
/// Per channel, events go out in sequence order, each at most once; a jump that the stream can
/// no longer fill is announced with a `gap` frame first. Every event is checked against the
/// principal's read grants before it is queued.
final class WebSocketSession: Sendable {
    enum Change: Sendable {
        case add([ChannelPattern], resume: [ChannelName: Int64], id: JSONValue?)
        case remove([ChannelPattern], id: JSONValue?)
    }

    /// What the session's subscription task works through, in order.
    enum Input: Sendable {
        /// A `subscribe` or `unsubscribe` frame.
        case change(Change)
        /// A live event that could not be queued at once: a jump to fill from the stream, or an
        /// event that arrived while earlier ones were still waiting here.
        case deferred(Envelope)
    }

    struct State {
        var queue: SessionQueue
        /// The last sequence number queued (or, for a resumed channel, seen by the client).
        var lastSent: [ChannelName: Int64] = [:]
        var close: (code: UInt16, reason: String)?
        /// A drain of the queue is waiting to run (or running) on the connection's event loop.
        var drainScheduled = false
        /// A subscription change is under way: live events wait in the inputs until its reply is queued.
        var holding = false
        /// Live events waiting in the inputs; while any wait, newer ones wait behind them.
        var deferred = 0
    }

    /// What ``admit(_:frame:onJump:)`` does with an event that is not the next of its channel.
    enum Jump {
        /// Leave it (and, while anything waits, every live event) to the subscription task.
        case deferToTask
        /// Report the last sequence queued, for the caller to fill the jump from the stream.
        case reportFill
        /// Announce the missing range with a `gap` frame and queue the event after it.
        case announceGap
    }

    enum Admission: Equatable {
        case queued, skipped, closed, deferred
        case fill(after: Int64)
    }

    /// The client left or the connection broke: nothing more to send.
    static let normalClosure: UInt16 = 1000
    /// The client broke the WebSocket protocol (RFC 6455 7.4.1).
    static let protocolError: UInt16 = 1002

    let router: Switchyard.Router
    let configuration: GatewayConfiguration
    /// Where `publish` frames go: the router, or strict mode's outbox, like HTTP publishes.
    let publisher: any Publisher
    /// The gateway's shared live feeds.
    let fanout: LiveFanout
    /// The upgraded connection: frames are written to it on its event loop.
    let channel: any Channel
    let grants: Grants
    /// The envelope `source` of this connection's publishes: the principal's subject, or `nil`
    /// (the gateway's own source) for anonymous access.
    let publishSource: String?
    let logger: Logger
    let metrics: WebSocketMetrics?
    let state: Mutex<State>
    private let closed: AsyncStream<Void>
    private let closing: AsyncStream<Void>.Continuation
    let inputs: AsyncStream<Input>
    let input: AsyncStream<Input>.Continuation

    init(
        router: Switchyard.Router, configuration: GatewayConfiguration, publisher: any Publisher, fanout: LiveFanout,
        channel: any Channel, principal: Principal?, metrics: WebSocketMetrics? = nil, logger: Logger
    ) {
        self.router = router
        self.metrics = metrics
        self.configuration = configuration
        self.publisher = publisher
        self.fanout = fanout
        self.channel = channel
        self.grants = principal?.grants ?? .none
        self.publishSource = principal?.publishSource
        self.logger = logger
        var onConflated: (@Sendable (ChannelName, Int) -> Void)?
        if let metrics { onConflated = { channel, count in metrics.conflated(channel, count: count) } }
        state = Mutex(State(queue: SessionQueue(limit: configuration.webSocket.queueLimit, onConflated: onConflated)))
        (closed, closing) = AsyncStream.makeStream(of: Void.self)
        (inputs, input) = AsyncStream.makeStream(of: Input.self)
    }

    /// Serves the connection until the client leaves, the session is closed (overflow, engine
    /// end) or the gateway shuts down; then closes it with the session's close code.
    func run(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async {
        metrics?.opened()
        defer { metrics?.closed() }
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.sendHeartbeats() }
                group.addTask { await self.manageSubscription() }
                group.addTask { for await _ in self.closed {} }
                group.addTask {
                    await self.read(inbound)
                    self.finish(code: Self.normalClosure, reason: "")
                }
                await group.next()
                group.cancelAll()
            }
        } onGracefulShutdown: {
            self.finish(code: WebSocketCloseCode.goingAway, reason: "the gateway is shutting down")
        }
        guard let close = state.withLock({ $0.close }), close.code != Self.normalClosure else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await outbound.close(WebSocketErrorCode(codeNumber: Int(close.code)), reason: close.reason) }
            group.addTask { try? await Task.sleep(for: .seconds(10)) }
            await group.next()
            group.cancelAll()
        }
    }

    /// Ends the session with a close code; the first call wins.
    /// - Returns: Whether this call was the first.
    @discardableResult
    func finish(code: UInt16, reason: String) -> Bool {
        let first = state.withLock { state in
            guard state.close == nil else { return false }
            state.close = (code, String(reason.utf8.prefix(120)) ?? "")
            return true
        }
        closing.finish()
        input.finish()
        return first
    }

    // MARK: Outbound

    /// Queues a control frame; an overflow closes the session.
    func send(_ bytes: [UInt8]) {
        let fits = state.withLock { state -> Bool? in state.close == nil ? state.queue.push(.control(ByteBuffer(bytes: bytes))) : nil }
        switch fits {
        case true?: scheduleDrain()
        case false?: overflow("the client does not read its replies")
        case nil: break
        }
    }

    /// Makes sure a drain runs on the connection's event loop after this call: the first frame
    /// queued schedules one, and every frame queued before it runs goes out with it.
    private func scheduleDrain() {
        let schedule = state.withLock { state -> Bool in
            guard state.close == nil, !state.drainScheduled else { return false }
            state.drainScheduled = true
            return true
        }
        if schedule { channel.eventLoop.execute { self.drain() } }
    }

    /// On the event loop: writes every waiting frame, then flushes once. While the socket takes no
    /// more (the client reads slowly), the frames stay queued, where conflation or the overflow
    /// close deals with them, and the drain looks again shortly.
    private func drain() {
        var wrote = false
        var blocked = false
        while true {
            guard channel.isActive else {
                state.withLock { $0.drainScheduled = false }
                return
            }
            guard channel.isWritable else {
                blocked = true
                break
            }
            let frame = state.withLock { state -> ByteBuffer? in
                if state.close == nil, let frame = state.queue.pop() { return frame }
                state.drainScheduled = false
                return nil
            }
            guard let frame else { break }
            channel.write(WebSocketFrame(fin: true, opcode: .text, data: frame), promise: nil)
            wrote = true
        }
        if wrote { channel.flush() }
        if blocked {
            channel.eventLoop.scheduleTask(in: .milliseconds(5)) { self.drain() }
        }
    }

    private func overflow(_ what: String) {
        if finish(code: WebSocketCloseCode.slowConsumer, reason: "slow consumer: \(what); reconnect and resume") {
            metrics?.disconnectedSlow.increment()
        }
    }

    private func sendHeartbeats() async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: configuration.webSocket.heartbeatInterval) } catch { return }
            let queued = state.withLock { state in
                state.close == nil && state.queue.count == 0 && state.queue.push(.control(ByteBuffer(bytes: ServerFrame.heartbeat)))
            }
            if queued { scheduleDrain() }
        }
    }

    // MARK: Events

    /// Takes a live event from the session's feed, on the feed's task: queued at once when it is
    /// the next of its channel, else left in the inputs for the subscription task, which fills the
    /// jump from the stream (``deliver(_:)``).
    func offer(_ envelope: Envelope, frame: ByteBuffer) {
        let channel = envelope.channel
        switch admit(envelope, frame: frame, onJump: .deferToTask) {
        case .deferred:
            if deferredLimitPassed() { overflow("events wait at \(channel.rawValue)") } else { input.yield(.deferred(envelope)) }
        case .queued, .skipped, .closed, .fill: break
        }
    }

    private func deferredLimitPassed() -> Bool {
        state.withLock { $0.deferred > 4 * max(64, configuration.webSocket.queueLimit) }
    }

    /// Queues an envelope the principal may read, filling a jump in its channel from the stream
    /// and announcing with a `gap` frame what the stream no longer holds.
    /// - Returns: `false` once the session is closing.
    func deliver(_ envelope: Envelope) async -> Bool {
        guard case .fill(let last) = admit(envelope, onJump: .reportFill) else {
            return !isClosed
        }
        guard await catchUp(envelope.channel, after: last, before: envelope.sequenceNumber) else { return false }
        return admit(envelope, onJump: .announceGap) != .closed
    }

    /// Queues the channel's stored events after `last` (and before `before`, when given), page by
    /// page, announcing with a `gap` frame what the stream no longer holds.
    /// - Returns: `false` once the session is closing.
    func catchUp(_ channel: ChannelName, after last: Int64, before: Int64? = nil) async -> Bool {
        guard grants.mayRead(channel) else { return !isClosed }
        var next = last + 1
        while before.map({ next < $0 }) ?? true {
            let page: [Envelope]
            do {
                let limit = before.map { Int(min(512, $0 - next)) } ?? 512
                page = try await router.engine.read(channel, from: .sequence(next), limit: limit)
                    .map(\.envelope).filter { envelope in envelope.sequenceNumber >= next && before.map { envelope.sequenceNumber < $0 } ?? true }
            } catch {
                logger.debug("history could not be read from the stream", metadata: ["channel": "\(channel)", "error": "\(error)"])
                break
            }
            guard let newest = page.last else { break }
            for older in page where admit(older, onJump: .announceGap) == .closed { return false }
            next = newest.sequenceNumber + 1
        }
        return !isClosed
    }

    var isClosed: Bool { state.withLock { $0.close != nil } }

    /// Queues `envelope` when it is the next of its channel, or handles the jump as `jump` says.
    /// Every event a session sends passes here, so the read grant is checked here, once: an event of
    /// a channel the principal may not read is skipped, whichever path (live, fill, resume) it came by.
    func admit(_ envelope: Envelope, frame: ByteBuffer? = nil, onJump jump: Jump) -> Admission {
        let channel = envelope.channel
        guard grants.mayRead(channel) else { return .skipped }
        let sequence = envelope.sequenceNumber
        let conflatable = fanout.isConflatable(channel)
        let frame = frame ?? fanout.eventFrames.frame(for: envelope)
        let admission = state.withLock { state -> Admission in
            if jump == .deferToTask {
                guard state.close == nil else { return .skipped }
                if state.holding || state.deferred > 0 {
                    state.deferred += 1
                    return .deferred
                }
            }
            guard state.close == nil else { return .closed }
            if let last = state.lastSent[channel] {
                if sequence <= last { return .skipped }
                if sequence > last + 1 {
                    switch jump {
                    case .deferToTask:
                        state.deferred += 1
                        return .deferred
                    case .reportFill:
                        return .fill(after: last)
                    case .announceGap:
                        let gap = ByteBuffer(bytes: ServerFrame.gap(channel, from: last + 1, to: sequence - 1))
                        guard state.queue.push(.control(gap)) else { return .closed }
                    }
                }
            }
            guard state.queue.push(.event(channel: channel, conflatable: conflatable, bytes: frame)) else { return .closed }
            state.lastSent[channel] = sequence
            return .queued
        }
        switch admission {
        case .queued: scheduleDrain()
        case .closed: overflow("queue full at \(channel.rawValue)")
        case .skipped, .fill, .deferred: break
        }
        return admission
    }
}
