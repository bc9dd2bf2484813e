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

    /// Reads, hands the deliveries to the handler, and reads again. A batch's acks go out together
    /// with the next read (both in flight at once), so a loop turn costs one round trip; the acks
    /// still owed when the loop ends are sent before it returns.
    private func readLoop() async {
        let options = handler.options
        let clock = router.configuration.clock
        var channels: [ChannelName] = state.withLock { $0.channels }
        var owed: GroupHandler.PendingAcks = []
        while true {
            let action = state.withLock { $0.nextRead(now: clock.now().unixMilliseconds, isCancelled: Task.isCancelled) }
            guard case .read(let discover) = action else {
                await handler.ack(owed, router: router)
                owed = []
                return
            }
            do {
                if discover {
                    await handler.ack(owed, router: router)
                    owed = []
                    channels = try await self.discover()
                }
                let request = GroupReadRequest(
                    group: handler.group, consumer: consumer, channels: channels, count: options.batchSize,
                    block: options.blockTimeout, watching: handler.patterns)
                let acks = owed
                owed = []
                async let sent: Void = handler.ack(acks, router: router)
                let read: Result<[Delivery], SwitchyardError>
                do { read = .success(try await router.engine.readGroup(request)) } catch { read = .failure(error) }
                await sent
                let deliveries = try read.get()
                state.withLock { $0.readSucceeded(deliveries: deliveries.count) }
                if handler.options.concurrency > 1 {
                    await process(deliveries)
                } else {
                    owed = await handler.handleLeavingAcks(batch: deliveries, router: router)
                }
            } catch {
                router.logger.error("reading the group failed", metadata: ["group": "\(handler.group)", "error": "\(error)"])
                guard case .wait(let wait) = state.withLock({ $0.readFailed(isCancelled: Task.isCancelled) }) else { return }
                do { try await clock.sleep(for: wait) } catch { return }
            }
        }
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
