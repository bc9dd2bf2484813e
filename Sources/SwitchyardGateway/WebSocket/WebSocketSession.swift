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
    /// What is sent and when; the session carries out the actions it returns.
    let state: Mutex<SessionDeliveryState>
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
        state = Mutex(SessionDeliveryState(queueLimit: configuration.webSocket.queueLimit, onConflated: onConflated))
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
        let first = state.withLock { $0.close(code: code, reason: reason) }
        end()
        return first
    }

    /// Stops the session's tasks once its state is closed.
    private func end() {
        closing.finish()
        input.finish()
    }

    // MARK: Outbound

    /// Queues a control frame; an overflow closes the session.
    func send(_ bytes: [UInt8]) {
        carryOut(state.withLock { $0.queueControl(ByteBuffer(bytes: bytes)) })
    }

    /// Carries out what the state asks after a frame was offered to the queue. The first frame
    /// queued schedules a drain on the connection's event loop, and every frame queued before it
    /// runs goes out with it.
    func carryOut(_ action: SessionDeliveryState.FrameAction) {
        switch action {
        case .none: break
        case .scheduleDrain: scheduleDrain()
        case .closeSlowConsumer: closedSlowConsumer()
        }
    }

    private func scheduleDrain() {
        channel.eventLoop.execute { self.drain() }
    }

    /// On the event loop: writes every waiting frame, then flushes once. While the socket takes no
    /// more (the client reads slowly), the frames stay queued, where conflation or the overflow
    /// close deals with them, and the drain looks again shortly.
    private func drain() {
        var wrote = false
        var blocked = false
        while true {
            guard channel.isActive else {
                state.withLock { $0.drainEnded() }
                return
            }
            guard channel.isWritable else {
                blocked = true
                break
            }
            guard let frame = state.withLock({ $0.nextFrame() }) else { break }
            channel.write(WebSocketFrame(fin: true, opcode: .text, data: frame), promise: nil)
            wrote = true
        }
        if wrote { channel.flush() }
        if blocked {
            channel.eventLoop.scheduleTask(in: .milliseconds(5)) { self.drain() }
        }
    }

    /// The state closed the session because the client does not read fast enough.
    private func closedSlowConsumer() {
        metrics?.disconnectedSlow.increment()
        end()
    }

    private func sendHeartbeats() async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: configuration.webSocket.heartbeatInterval) } catch { return }
            carryOut(state.withLock { $0.heartbeatDue() })
        }
    }

    // MARK: Events

    /// Takes a live event from the session's feed, on the feed's task: queued at once when it is
    /// the next of its channel, else left in the inputs for the subscription task, which fills the
    /// jump from the stream (``deliver(_:)``).
    func offer(_ envelope: Envelope, frame: ByteBuffer) {
        if admit(envelope, frame: frame, onJump: .deferToTask) == .deferToTask { input.yield(.deferred(envelope)) }
    }

    /// Queues an envelope the principal may read, filling a jump in its channel from the stream
    /// and announcing with a `gap` frame what the stream no longer holds.
    /// - Returns: `false` once the session is closing.
    func deliver(_ envelope: Envelope) async -> Bool {
        guard case .fill(let last) = admit(envelope, onJump: .reportFill) else {
            return !isClosed
        }
        guard await catchUp(envelope.channel, after: last, before: envelope.sequenceNumber) else { return false }
        return !admit(envelope, onJump: .announceGap).isClosing
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
                page = try await router.read(channel, from: .sequence(next), limit: limit)
                    .map(\.envelope).filter { envelope in envelope.sequenceNumber >= next && before.map { envelope.sequenceNumber < $0 } ?? true }
            } catch {
                logger.debug("history could not be read from the stream", metadata: ["channel": "\(channel)", "error": "\(error)"])
                break
            }
            guard let newest = page.last else { break }
            for older in page where admit(older, onJump: .announceGap).isClosing { return false }
            next = newest.sequenceNumber + 1
        }
        return !isClosed
    }

    var isClosed: Bool { state.withLock { $0.isClosed } }

    /// Queues `envelope` when it is the next of its channel, or handles the jump as `jump` says.
    /// Every event a session sends passes here, so the read grant is checked here, once: an event of
    /// a channel the principal may not read is dropped, whichever path (live, fill, resume) it came by.
    @discardableResult
    func admit(_ envelope: Envelope, frame: ByteBuffer? = nil, onJump jump: SessionDeliveryState.Jump) -> SessionDeliveryState.AdmitAction {
        let channel = envelope.channel
        guard grants.mayRead(channel) else { return .dropped }
        let conflatable = fanout.isConflatable(channel)
        let frame = frame ?? fanout.eventFrames.frame(for: envelope)
        let action = state.withLock { state in
            state.admit(channel: channel, sequence: envelope.sequenceNumber, conflatable: conflatable, frame: frame, onJump: jump)
        }
        switch action {
        case .queued(scheduleDrain: true): scheduleDrain()
        case .closeSlowConsumer: closedSlowConsumer()
        case .queued(scheduleDrain: false), .dropped, .deferToTask, .fill, .closed: break
        }
        return action
    }
}
