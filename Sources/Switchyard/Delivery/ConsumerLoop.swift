import Synchronization

/// One consumer of a group in live mode: a reader of new entries and a claimer of idle ones,
/// both handing deliveries to the group's handler.
final class ConsumerLoop: Sendable {
    let router: Router
    let handler: GroupHandler
    let consumer: String
    /// The channels followed and the loop's decisions; the loop carries out the actions it returns.
    private let state: Mutex<ConsumerLoopState>

    init(router: Router, handler: GroupHandler, consumer: String) {
        self.router = router
        self.handler = handler
        self.consumer = consumer
        state = Mutex(ConsumerLoopState(options: handler.options))
    }

    /// Finds the channels matching the patterns (literal patterns count even before their first
    /// event) and creates the group on the new ones; returns every channel followed.
    func discover() async throws(SwitchyardError) -> [ChannelName] {
        var found = Set(try await router.engine.channels(matching: handler.patterns))
        for pattern in handler.patterns where pattern.isLiteral {
            if let name = try? ChannelName(pattern.rawValue) { found.insert(name) }
        }
        for creation in state.withLock({ $0.groupsToCreate(found: found) }) {
            try await router.engine.createGroup(handler.group, on: creation.channel, start: creation.start)
        }
        return state.withLock { $0.discovered(found) }
    }

    func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { await self.readLoop() }
            tasks.addTask { await self.claimLoop() }
            try await tasks.waitForAll()
        }
    }

    /// Reads, and while the handler works on what a read returned, reads the next batch, so it is
    /// there when the handler is done. A batch's acks go out as soon as the handler is done with it,
    /// without waiting for the read in flight (a blocking read may wait up to
    /// ``ConsumerOptions/blockTimeout``) and without the next read waiting for them, so a busy loop
    /// turn costs the handling alone when the engine answers faster than the handler works. An idle
    /// consumer (its last read returned nothing) does not read ahead: its one blocking read waits for
    /// the next entries.
    ///
    /// Entries read ahead are pending on this consumer. When the loop stops with such a batch not
    /// yet handled, the batch stays pending and is claimed (by another consumer of the group, or by
    /// this one restarted) after ``ConsumerOptions/visibilityTimeout``, as entries of a consumer that
    /// died are; the acks of every batch handled are sent before the loop returns.
    private func readLoop() async {
        let clock = router.configuration.clock
        var channels: [ChannelName] = state.withLock { $0.channels }
        var inHand: [Delivery] = []
        var acking: Task<Void, Never>?
        reading: while true {
            guard case .read(let discover) = state.withLock({ $0.nextRead(now: clock.now().unixMilliseconds, isCancelled: Task.isCancelled) }) else {
                break reading
            }
            let fetched: Result<Fetched, SwitchyardError>
            if inHand.isEmpty {
                fetched = await fetch(discover: discover, channels: channels)
            } else {
                async let next = fetch(discover: discover, channels: channels)
                let acks = await handle(inHand)
                if !acks.isEmpty {
                    // Not a child of this task: the acks go out even when the loop is being cancelled.
                    let earlier = acking
                    acking = Task {
                        await earlier?.value
                        await self.handler.ack(acks, router: self.router)
                    }
                }
                fetched = await next
            }
            inHand = []
            switch fetched {
            case .success(let fetched):
                channels = fetched.channels
                inHand = fetched.deliveries
                state.withLock { $0.readSucceeded(deliveries: fetched.deliveries.count) }
            case .failure(let error):
                router.logger.error("reading the group failed", metadata: ["group": "\(handler.group)", "error": "\(error)"])
                guard case .wait(let wait) = state.withLock({ $0.readFailed(isCancelled: Task.isCancelled) }) else { break reading }
                do { try await clock.sleep(for: wait) } catch { break reading }
            }
        }
        await acking?.value
    }

    /// What one read step returned: every channel followed, and the entries read.
    private struct Fetched: Sendable {
        let channels: [ChannelName]
        let deliveries: [Delivery]
    }

    /// One read step: looks for new channels first when `discover`, then reads the group.
    private func fetch(discover: Bool, channels: [ChannelName]) async -> Result<Fetched, SwitchyardError> {
        var channels = channels
        do {
            if discover { channels = try await self.discover() }
            let options = handler.options
            let request = GroupReadRequest(
                group: handler.group, consumer: consumer, channels: channels, count: options.batchSize,
                block: options.blockTimeout, watching: handler.patterns)
            return .success(Fetched(channels: channels, deliveries: try await router.engine.readGroup(request)))
        } catch {
            return .failure(error)
        }
    }

    /// Hands a read's entries to the handler; returns the acks owed (none when `concurrency > 1`,
    /// whose channels ack their own entries).
    private func handle(_ deliveries: [Delivery]) async -> GroupHandler.PendingAcks {
        guard handler.options.concurrency > 1 else {
            return await handler.handleLeavingAcks(batch: deliveries, router: router)
        }
        await process(deliveries)
        return []
    }

    private func claimLoop() async {
        let options = handler.options
        while case .wait(let interval) = state.withLock({ $0.nextClaimPass(isCancelled: Task.isCancelled) }) {
            do { try await router.configuration.clock.sleep(for: interval) } catch { return }
            for channel in state.withLock({ $0.channels }) where !Task.isCancelled {
                do {
                    let result = try await router.engine.claim(
                        ClaimRequest(
                            group: handler.group, channel: channel, consumer: consumer, minIdle: options.visibilityTimeout,
                            cursor: state.withLock { $0.claimCursor(for: channel) }, count: options.batchSize))
                    state.withLock { $0.claimed(on: channel, cursor: result.cursor) }
                    if !result.deleted.isEmpty {
                        router.metrics.reclaimDeleted.increment(by: Int64(result.deleted.count))
                        router.logger.warning(
                            "pending entries were trimmed before they were acked; dropped from the pending list",
                            metadata: ["group": "\(handler.group)", "channel": "\(channel)", "count": "\(result.deleted.count)"])
                    }
                    if !result.deliveries.isEmpty {
                        router.metrics.reclaimed.increment(by: Int64(result.deliveries.count))
                        await process(result.deliveries)
                    }
                } catch {
                    router.logger.error("claiming failed", metadata: ["group": "\(handler.group)", "channel": "\(channel)", "error": "\(error)"])
                }
            }
        }
    }

    /// Hands deliveries to the handler: in order per channel, up to `concurrency` channels at once.
    private func process(_ deliveries: [Delivery]) async {
        guard handler.options.concurrency > 1 else {
            await handler.handle(batch: deliveries, router: router)
            return
        }
        var byChannel: [ChannelName: [Delivery]] = [:]
        var order: [ChannelName] = []
        for delivery in deliveries {
            if byChannel[delivery.channel] == nil { order.append(delivery.channel) }
            byChannel[delivery.channel, default: []].append(delivery)
        }
        await withTaskGroup(of: Void.self) { tasks in
            var running = 0
            for channel in order {
                if running >= handler.options.concurrency {
                    await tasks.next()
                    running -= 1
                }
                let batch = byChannel[channel]!
                tasks.addTask {
                    await self.handler.handle(batch: batch, router: self.router)
                }
                running += 1
            }
        }
    }
}
