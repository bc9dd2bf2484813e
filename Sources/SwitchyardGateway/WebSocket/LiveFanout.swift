import Logging
import NIOCore
import ServiceLifecycle
import Switchyard
import Synchronization

/// One live subscription on the router per distinct set of patterns, shared by every WebSocket
/// session subscribed to that set.
///
/// A thousand browsers on `market_data:*` cost one engine subscription: each event is read from it
/// once, its frame is serialized once, and it is offered to each session in turn, synchronously
/// (``WebSocketSession/offer(_:frame:)``), which queues it and schedules a drain on the session's
/// event loop. Feeds run as child tasks of ``run()``; a feed stops when its last session leaves.
final class LiveFanout: Service {
    /// A feed's identity: its patterns, sorted.
    struct Key: Hashable, Sendable {
        let patterns: [ChannelPattern]
        init(_ patterns: [ChannelPattern]) { self.patterns = patterns.sorted { $0.rawValue < $1.rawValue } }
    }

    private final class Feed: Sendable {
        let key: Key
        let stop: AsyncStream<Void>.Continuation
        let stopped: AsyncStream<Void>
        init(key: Key) {
            self.key = key
            (stopped, stop) = AsyncStream.makeStream(of: Void.self)
        }
    }

    private struct FeedState {
        var sessions: [ObjectIdentifier: WebSocketSession] = [:]
        var live = false
        var waiting: [CheckedContinuation<SwitchyardError?, Never>] = []
    }

    private struct State {
        var feeds: [Key: (feed: Feed, state: FeedState)] = [:]
    }

    let router: Switchyard.Router
    let eventFrames: EventFrameCache
    let logger: Logger
    private let conflatable = RecentValues<ChannelName, Bool>(capacity: 4096)
    private let state = Mutex(State())
    private let starts: AsyncStream<Feed>
    private let start: AsyncStream<Feed>.Continuation

    init(router: Switchyard.Router, eventFrames: EventFrameCache, logger: Logger) {
        self.router = router
        self.eventFrames = eventFrames
        self.logger = logger
        (starts, start) = AsyncStream.makeStream(of: Feed.self)
    }

    /// Whether `channel` is conflatable, from its contract or the defaults; looked up once for
    /// every session.
    func isConflatable(_ channel: ChannelName) -> Bool {
        conflatable.value(for: channel, orMake: {
            (router.contracts.contract(for: channel)?.policy ?? ChannelPolicy.defaults(for: channel.rawValue)).conflatable
        })
    }

    /// Runs every feed until cancelled or a graceful shutdown; sessions of a feed that ends are closed.
    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for await feed in self.starts {
                    group.addTask { await self.serve(feed) }
                }
            }
        }
        let feeds = state.withLock { state in
            defer { state.feeds = [:] }
            return state.feeds.values
        }
        for (feed, feedState) in feeds {
            for continuation in feedState.waiting { continuation.resume(returning: Self.notRunning) }
            feed.stop.finish()
        }
    }

    static let notRunning = SwitchyardError(.engineUnavailable, "the gateway's live feeds are not running")

    /// Adds `session` to the feed of `patterns`, starting it if needed; returns once the feed is
    /// live (an event published after this returns is offered to the session), or the error that
    /// kept it from starting.
    func attach(_ session: WebSocketSession, to patterns: [ChannelPattern]) async -> SwitchyardError? {
        let key = Key(patterns)
        let id = ObjectIdentifier(session)
        enum Attach { case live, wait(Feed?) }
        let attach = state.withLock { state -> Attach in
            if var entry = state.feeds[key] {
                entry.state.sessions[id] = session
                state.feeds[key] = entry
                return entry.state.live ? .live : .wait(nil)
            }
            let feed = Feed(key: key)
            state.feeds[key] = (feed, FeedState(sessions: [id: session]))
            return .wait(feed)
        }
        guard case .wait(let newFeed) = attach else { return nil }
        return await withCheckedContinuation { continuation in
            let live = state.withLock { state -> Bool? in
                guard var entry = state.feeds[key] else { return nil }
                if entry.state.live { return true }
                entry.state.waiting.append(continuation)
                state.feeds[key] = entry
                return false
            }
            switch live {
            case true?: continuation.resume(returning: nil)
            case nil: continuation.resume(returning: SwitchyardError(.engineUnavailable, "the live subscription ended before it started"))
            case false?:
                if let newFeed, case .terminated = start.yield(newFeed) { fail(key, Self.notRunning) }
            }
        }
    }

    /// Removes `session` from the feed of `key`; the feed stops when it was the last.
    func detach(_ session: WebSocketSession, from key: Key) {
        let emptied = state.withLock { state -> Feed? in
            guard var entry = state.feeds[key] else { return nil }
            entry.state.sessions[ObjectIdentifier(session)] = nil
            guard entry.state.sessions.isEmpty else {
                state.feeds[key] = entry
                return nil
            }
            state.feeds[key] = nil
            for continuation in entry.state.waiting { continuation.resume(returning: SwitchyardError(.engineUnavailable, "the subscription was dropped")) }
            return entry.feed
        }
        emptied?.stop.finish()
    }

    private func fail(_ key: Key, _ error: SwitchyardError) {
        let entry = state.withLock { state in
            defer { state.feeds[key] = nil }
            return state.feeds[key]
        }
        guard let entry else { return }
        for continuation in entry.state.waiting { continuation.resume(returning: error) }
        entry.feed.stop.finish()
    }

    private typealias Ending = (code: UInt16, reason: String)

    /// Runs one feed until it is stopped or its subscription ends; the sessions of a feed that
    /// ended are closed, to reconnect and resume.
    private func serve(_ feed: Feed) async {
        let ending: Ending? = await withTaskGroup(of: Ending?.self) { group in
            group.addTask {
                for await _ in feed.stopped {}
                return nil
            }
            group.addTask { await self.read(feed) }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        let sessions = state.withLock { state -> [WebSocketSession] in
            guard let entry = state.feeds[feed.key], entry.feed === feed else { return [] }
            state.feeds[feed.key] = nil
            return Array(entry.state.sessions.values)
        }
        if let ending {
            for session in sessions { session.finish(code: ending.code, reason: ending.reason) }
        }
    }

    /// Starts the feed's subscription, wakes the sessions waiting for it, then offers each event to
    /// every session of the feed. Returns how the sessions are to be closed, or `nil` when the feed
    /// was stopped or could not start.
    private func read(_ feed: Feed) async -> Ending? {
        var iterator = router.subscribe(feed.key.patterns).makeAsyncIterator()
        do {
            try await iterator.start()
        } catch {
            fail(feed.key, error as? SwitchyardError ?? SwitchyardError(.engineUnavailable, "the subscription could not be started"))
            return nil
        }
        let waiting = state.withLock { state -> [CheckedContinuation<SwitchyardError?, Never>] in
            guard var entry = state.feeds[feed.key], entry.feed === feed else { return [] }
            let waiting = entry.state.waiting
            entry.state.live = true
            entry.state.waiting = []
            state.feeds[feed.key] = entry
            return waiting
        }
        for continuation in waiting { continuation.resume(returning: nil) }
        do {
            while let envelope = try await iterator.next() {
                let frame = eventFrames.frame(for: envelope)
                let sessions = state.withLock { state -> [WebSocketSession] in
                    guard let entry = state.feeds[feed.key], entry.feed === feed else { return [] }
                    return Array(entry.state.sessions.values)
                }
                for session in sessions { session.offer(envelope, frame: frame) }
            }
            return Task.isCancelled ? nil : (WebSocketCloseCode.goingAway, "the live feed ended; reconnect and resume")
        } catch {
            guard !Task.isCancelled else { return nil }
            logger.warning("a WebSocket live feed failed", metadata: ["error": "\(error)"])
            return (WebSocketCloseCode.serverError, "the engine failed; reconnect and resume")
        }
    }
}
