import HummingbirdWebSocket
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

    struct State {
        var queue: SessionQueue
        /// The last sequence number queued (or, for a resumed channel, seen by the client).
        var lastSent: [ChannelName: Int64] = [:]
        var close: (code: UInt16, reason: String)?
    }

    private enum Admission: Equatable {
        case queued, skipped, closed
        case fill(after: Int64)
    }

    /// The client left or the connection broke: nothing more to send.
    static let normalClosure: UInt16 = 1000

    let router: Switchyard.Router
    let configuration: GatewayConfiguration
    let grants: Grants
    /// The envelope `source` of this connection's publishes: the principal's subject, or `nil`
    /// (the gateway's own source) for anonymous access.
    let publishSource: String?
    let logger: Logger
    let metrics: WebSocketMetrics?
    private let state: Mutex<State>
    private let wakes: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation
    private let closed: AsyncStream<Void>
    private let closing: AsyncStream<Void>.Continuation
    private let changes: AsyncStream<Change>
    let change: AsyncStream<Change>.Continuation

    init(router: Switchyard.Router, configuration: GatewayConfiguration, principal: Principal?, metrics: WebSocketMetrics? = nil, logger: Logger) {
        self.router = router
        self.metrics = metrics
        self.configuration = configuration
        self.grants = principal?.grants ?? .none
        self.publishSource = principal?.publishSource
        self.logger = logger
        var onConflated: (@Sendable (ChannelName, Int) -> Void)?
        if let metrics { onConflated = { channel, count in metrics.conflated(channel, count: count) } }
        state = Mutex(State(queue: SessionQueue(limit: configuration.webSocket.queueLimit, onConflated: onConflated)))
        (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        (closed, closing) = AsyncStream.makeStream(of: Void.self)
        (changes, change) = AsyncStream.makeStream(of: Change.self)
    }

    /// Serves the connection until the client leaves, the session is closed (overflow, engine
    /// end) or the gateway shuts down; then closes it with the session's close code.
    func run(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async {
        metrics?.opened()
        defer { metrics?.closed() }
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.write(to: outbound) }
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
        return first
    }

    // MARK: Outbound

    private func write(to outbound: WebSocketOutboundWriter) async {
        for await _ in wakes {
            while let bytes = state.withLock({ $0.close == nil ? $0.queue.pop() : nil }) {
                do {
                    try await outbound.write(.text(String(decoding: bytes, as: UTF8.self)))
                } catch {
                    finish(code: Self.normalClosure, reason: "")
                    return
                }
            }
        }
    }

    /// Queues a control frame; an overflow closes the session.
    func send(_ bytes: [UInt8]) {
        let fits = state.withLock { state -> Bool? in state.close == nil ? state.queue.push(.control(bytes)) : nil }
        switch fits {
        case true?: wake.yield()
        case false?: overflow("the client does not read its replies")
        case nil: break
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
                state.close == nil && state.queue.count == 0 && state.queue.push(.control(ServerFrame.heartbeat))
            }
            if queued { wake.yield() }
        }
    }

    // MARK: Events

    /// Queues an envelope the principal may read, filling a jump in its channel from the stream
    /// and announcing with a `gap` frame what the stream no longer holds.
    /// - Returns: `false` once the session is closing.
    private func deliver(_ envelope: Envelope) async -> Bool {
        guard grants.mayRead(envelope.channel) else { return true }
        let conflatable = isConflatable(envelope.channel)
        guard case .fill(let last) = admit(envelope, conflatable: conflatable, acceptsGap: false) else {
            return !isClosed
        }
        let channel = envelope.channel
        var next = last + 1
        while next < envelope.sequenceNumber {
            let page: [Envelope]
            do {
                page = try await router.engine.read(channel, from: .sequence(next), limit: Int(min(512, envelope.sequenceNumber - next)))
                    .map(\.envelope).filter { $0.sequenceNumber >= next && $0.sequenceNumber < envelope.sequenceNumber }
            } catch {
                logger.debug("a gap could not be filled from the stream", metadata: ["channel": "\(channel)", "error": "\(error)"])
                break
            }
            guard let newest = page.last else { break }
            for older in page where admit(older, conflatable: conflatable, acceptsGap: true) == .closed { return false }
            next = newest.sequenceNumber + 1
        }
        return admit(envelope, conflatable: conflatable, acceptsGap: true) != .closed
    }

    private var isClosed: Bool { state.withLock { $0.close != nil } }

    private func admit(_ envelope: Envelope, conflatable: Bool, acceptsGap: Bool) -> Admission {
        let channel = envelope.channel
        let sequence = envelope.sequenceNumber
        let admission = state.withLock { state -> Admission in
            guard state.close == nil else { return .closed }
            if let last = state.lastSent[channel] {
                if sequence <= last { return .skipped }
                if sequence > last + 1 {
                    guard acceptsGap else { return .fill(after: last) }
                    guard state.queue.push(.control(ServerFrame.gap(channel, from: last + 1, to: sequence - 1))) else { return .closed }
                }
            }
            guard state.queue.push(.event(channel: channel, conflatable: conflatable, bytes: ServerFrame.event(envelope))) else { return .closed }
            state.lastSent[channel] = sequence
            return .queued
        }
        switch admission {
        case .queued: wake.yield()
        case .closed: overflow("queue full at \(channel.rawValue)")
        case .skipped, .fill: break
        }
        return admission
    }

    private func isConflatable(_ channel: ChannelName) -> Bool {
        (router.contracts.contract(for: channel)?.policy ?? ChannelPolicy.defaults(for: channel.rawValue)).conflatable
    }

    // MARK: Subscription

    /// Applies subscription changes in order: each one starts a subscription to the new pattern
    /// set, resuming every channel already sent, and only when it is live stops the previous one,
    /// so nothing published in between is missed; the overlap is removed by sequence number.
    /// Channels no pattern matches any more are forgotten: subscribing to them again starts live
    /// (or from the `resume` given).
    private func manageSubscription() async {
        var patterns: [ChannelPattern] = []
        var current: Task<Void, Never>?
        for await change in changes {
            var next = patterns
            var resume: [ChannelName: Int64] = [:]
            let reply: [UInt8]
            switch change {
            case .add(let added, let given, let id):
                for pattern in added where !next.contains(pattern) { next.append(pattern) }
                resume = given
                reply = ServerFrame.subscribed(added, id: id)
            case .remove(let removed, let id):
                next.removeAll { removed.contains($0) }
                reply = ServerFrame.unsubscribed(removed, id: id)
            }
            let from = state.withLock { state in
                for (channel, last) in resume where state.lastSent[channel] == nil && next.contains(where: { $0.matches(channel) }) {
                    state.lastSent[channel] = last
                }
                return state.lastSent.filter { entry in next.contains { $0.matches(entry.key) } }.mapValues { $0 + 1 }
            }
            var started: Task<Void, Never>?
            let (go, goContinuation) = AsyncStream.makeStream(of: Void.self)
            defer { goContinuation.finish() }
            if !next.isEmpty {
                let (ready, readyContinuation) = AsyncStream.makeStream(of: SwitchyardError?.self)
                let wanted = next
                let task = Task { await self.pump(wanted, from: from, ready: readyContinuation, go: go) }
                var readiness = ready.makeAsyncIterator()
                guard let outcome = await readiness.next() else {
                    task.cancel()
                    await task.value
                    break
                }
                if let failure = outcome {
                    await task.value
                    send(ServerFrame.error(failure, id: change.id))
                    continue
                }
                started = task
            }
            current?.cancel()
            await current?.value
            current = started
            patterns = next
            state.withLock { state in
                state.lastSent = state.lastSent.filter { entry in next.contains { $0.matches(entry.key) } }
            }
            send(reply)
            goContinuation.finish()
        }
        current?.cancel()
        await current?.value
    }

    /// Runs one subscription until it ends or is cancelled: reports on `ready` once it is live,
    /// then waits for `go` to end (the reply is queued) before it sends anything.
    private func pump(
        _ patterns: [ChannelPattern], from: [ChannelName: Int64], ready: AsyncStream<SwitchyardError?>.Continuation, go: AsyncStream<Void>
    ) async {
        var iterator = router.subscribe(patterns, from: from).makeAsyncIterator()
        do {
            try await iterator.start()
        } catch {
            ready.yield(error as? SwitchyardError ?? SwitchyardError(.engineUnavailable, "the subscription could not be started"))
            ready.finish()
            return
        }
        ready.yield(nil)
        ready.finish()
        for await _ in go {}
        do {
            while let envelope = try await iterator.next() {
                guard await deliver(envelope) else { return }
            }
            if !Task.isCancelled { finish(code: WebSocketCloseCode.goingAway, reason: "the live feed ended; reconnect and resume") }
        } catch {
            guard !Task.isCancelled else { return }
            logger.warning("a WebSocket subscription failed", metadata: ["error": "\(error)"])
            finish(code: WebSocketCloseCode.serverError, reason: "the engine failed; reconnect and resume")
        }
    }
}

extension WebSocketSession.Change {
    var id: JSONValue? {
        switch self {
        case .add(_, _, let id), .remove(_, let id): id
        }
    }
}
