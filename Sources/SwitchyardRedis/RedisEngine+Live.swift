import RedisClient
import Switchyard

extension RedisEngine {
    /// A live subscriber waiting for ``RedisEngine/run()`` to serve it.
    struct LiveRequest: Sendable {
        let patterns: [ChannelPattern]
        let continuation: AsyncStream<Envelope>.Continuation
        /// Ends when the subscriber's stream terminates.
        let ended: AsyncStream<Void>
        /// Yields once the pattern subscription is live on the server; finishes when it failed.
        let ready: AsyncStream<Void>.Continuation
    }

    /// Envelopes published from now on (`PSUBSCRIBE` on the patterns, served inside ``run()``).
    /// Per channel seen, a jump in sequence numbers is filled from the stream before the newer
    /// envelope, and after a reconnect or an overflow every matching channel is backfilled (after
    /// the last envelope seen, or from the subscription's start for a channel not seen yet), so the
    /// sequence stays gap-free per channel (for durable channels).
    /// The engine also subscribes to each pattern's companion (`switchyard:envelope:PATTERN`), where
    /// payload-mode channels' envelopes are published; their bare payloads on `C` are not envelopes
    /// and are passed over.
    /// A message whose envelope names another channel than the one it was published on (for the
    /// companion, `C` of `switchyard:envelope:C`) is dropped
    /// and counted (`switchyard_live_forged_total`), and changes nothing the feed remembers: anyone
    /// allowed to `PUBLISH` on one channel could otherwise send an envelope of another.
    /// It returns once the subscription is live on the server.
    /// - Throws: `engine_unavailable` when the subscription is not live within
    ///   ``Configuration/liveConfirmationTimeout`` (is ``run()`` running? is Redis up?).
    public func liveEvents(matching patterns: [ChannelPattern]) async throws(SwitchyardError) -> AsyncStream<Envelope> {
        let (stream, continuation) = AsyncStream.makeStream(of: Envelope.self, bufferingPolicy: .bufferingOldest(configuration.liveBufferSize))
        let (ended, endedContinuation) = AsyncStream.makeStream(of: Void.self)
        let (ready, readyContinuation) = AsyncStream.makeStream(of: Void.self)
        continuation.onTermination = { _ in endedContinuation.finish() }
        liveRequestsContinuation.yield(LiveRequest(patterns: patterns, continuation: continuation, ended: ended, ready: readyContinuation))
        let timeout = configuration.liveConfirmationTimeout
        let confirmed = await result(within: timeout) { () async -> Bool in
            for await _ in ready { return true }
            return false
        } ?? false
        guard confirmed else {
            continuation.finish()
            throw SwitchyardError(.engineUnavailable, "the live subscription was not confirmed in time: is the engine's run() running and Redis up?")
        }
        return stream
    }

    /// The prefix of a channel's companion Pub/Sub channel, `switchyard:envelope:C`: in payload
    /// mode (`"live_message": "payload"`) `publish.lua` publishes the bare payload on `C` and the
    /// envelope there, and the live feed reads it as `C`'s.
    public static let companionChannelPrefix = "switchyard:envelope:"

    /// The channel a live message belongs to: `C` for a message on `C` or on its companion channel.
    static func channel(ofLiveMessageOn pubSubChannel: String) -> String {
        pubSubChannel.hasPrefix(companionChannelPrefix) ? String(pubSubChannel.dropFirst(companionChannelPrefix.count)) : pubSubChannel
    }

    /// Forwards one subscriber's events until its stream ends or the engine stops.
    func serve(_ request: LiveRequest) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { for await _ in request.ended {} }
            group.addTask { await self.forward(request) }
            await group.next()
            group.cancelAll()
        }
        request.continuation.finish()
    }

    private func forward(_ request: LiveRequest) async {
        defer { request.ready.finish() }
        let since = clock.now()
        do {
            let patterns = request.patterns.map(\.rawValue)
            try await client.subscribe(toPatterns: patterns + patterns.map { Self.companionChannelPrefix + $0 }) { subscription in
                request.ready.yield()
                var lastSeen: [ChannelName: Int64] = [:]
                for try await event in subscription {
                    switch event {
                    case .message(let message):
                        guard let envelope = liveEnvelopes.envelope(of: message.payload) else { continue }
                        guard envelope.channel.rawValue == Self.channel(ofLiveMessageOn: message.channel) else {
                            forgedLiveEvents.increment()
                            continue
                        }
                        if let last = lastSeen[envelope.channel] {
                            if envelope.sequenceNumber <= last { continue }
                            if envelope.sequenceNumber > last + 1 {
                                var filled = last
                                try await untilItWorks {
                                    try await backfill(envelope.channel, after: filled, before: envelope.sequenceNumber, into: request.continuation) {
                                        filled = $0
                                    }
                                }
                            }
                        }
                        lastSeen[envelope.channel] = envelope.sequenceNumber
                        request.continuation.yield(envelope)
                    case .gap:
                        // After a failover the first reads may reach a node that is not serving yet:
                        // the backfill is tried again until it works, so the feed outlives the failover.
                        try await untilItWorks {
                            for channel in try await channels(matching: request.patterns) {
                                let after: Int64
                                if let last = lastSeen[channel] {
                                    after = last
                                } else if let first = try await read(channel, from: .time(since), limit: 1).first?.envelope.sequenceNumber {
                                    after = first - 1
                                } else {
                                    continue
                                }
                                try await backfill(channel, after: after, before: nil, into: request.continuation) { lastSeen[channel] = $0 }
                            }
                        }
                    }
                }
            }
        } catch {
            if !Task.isCancelled { logger.warning("a live subscription ended", metadata: ["error": "\(error)"]) }
        }
    }

    /// Runs `work` until it does not throw, pausing 50 ms after the first failure and twice as long
    /// after each next one, up to 2 s; throws only when the task is cancelled. What `work` yielded
    /// before it failed is not yielded again: it records its progress as it goes.
    private func untilItWorks(_ work: () async throws -> Void) async throws {
        var pause = Duration.milliseconds(50)
        while true {
            do {
                return try await work()
            } catch {
                try Task.checkCancellation()
                logger.debug("a live feed's backfill failed; trying again", metadata: ["error": "\(error)", "retry_in": "\(pause)"])
                try await Task.sleep(for: pause)
                pause = min(pause * 2, .seconds(2))
            }
        }
    }

    /// Yields the channel's stored events after `last` (and before `before`, when given), page by
    /// page, telling `progress` the last sequence number yielded after each page.
    private func backfill(
        _ channel: ChannelName, after last: Int64, before: Int64?, into continuation: AsyncStream<Envelope>.Continuation,
        progress: (Int64) -> Void
    ) async throws {
        var last = last
        while before.map({ last + 1 < $0 }) ?? true {
            let limit = before.map { Int(min(1000, $0 - last - 1)) } ?? 1000
            let page = try await read(channel, from: .sequence(last + 1), limit: limit)
            guard let newest = page.last?.envelope.sequenceNumber else { return }
            for event in page { continuation.yield(event.envelope) }
            last = newest
            progress(newest)
        }
    }
}
