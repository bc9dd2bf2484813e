import Synchronization

/// One consumer of a group in live mode: a reader of new entries and a claimer of idle ones,
/// both handing deliveries to the group's handler.
final class ConsumerLoop: Sendable {
    let router: Router
    let handler: GroupHandler
    let consumer: String
    /// The channels followed, and whether a discovery has run: the group's ``ConsumerOptions/start``
    /// applies to the channels of the first one only.
    private let known = Mutex<(channels: [ChannelName], discovered: Bool)>(([], false))

    init(router: Router, handler: GroupHandler, consumer: String) {
        self.router = router
        self.handler = handler
        self.consumer = consumer
    }

    /// Finds the channels matching the patterns (literal patterns count even before their first
    /// event) and creates the group on the new ones; returns every channel followed.
    func discover() async throws(SwitchyardError) -> [ChannelName] {
        var found = Set(try await router.engine.channels(matching: handler.patterns))
        for pattern in handler.patterns where pattern.isLiteral {
            if let name = try? ChannelName(pattern.rawValue) { found.insert(name) }
        }
        let (before, isFirst) = known.withLock { ($0.channels, !$0.discovered) }
        for channel in found.subtracting(before).sorted() {
            try await router.engine.createGroup(handler.group, on: channel, start: isFirst ? handler.options.start : .beginning)
        }
        let all = found.union(before).sorted()
        known.withLock { $0 = (all, true) }
        return all
    }

    func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { await self.readLoop() }
            tasks.addTask { await self.claimLoop() }
            try await tasks.waitForAll()
        }
    }

    /// How often a busy consumer looks for new channels matching its patterns; an idle one looks
    /// after every empty read. Looking can cost a keyspace scan, so not after every batch.
    static let busyDiscoveryIntervalMilliseconds: Int64 = 500

    private func readLoop() async {
        let options = handler.options
        let clock = router.configuration.clock
        var channels: [ChannelName] = known.withLock { $0.channels }
        var discoveredAt = clock.now().unixMilliseconds
        var wasIdle = true
        while !Task.isCancelled {
            do {
                let now = clock.now().unixMilliseconds
                if wasIdle || now - discoveredAt >= Self.busyDiscoveryIntervalMilliseconds {
                    channels = try await discover()
                    discoveredAt = now
                }
                let deliveries = try await router.engine.readGroup(
                    GroupReadRequest(
                        group: handler.group, consumer: consumer, channels: channels, count: options.batchSize,
                        block: options.blockTimeout, watching: handler.patterns))
                wasIdle = deliveries.isEmpty
                await process(deliveries)
            } catch {
                router.logger.error("reading the group failed", metadata: ["group": "\(handler.group)", "error": "\(error)"])
                do { try await router.configuration.clock.sleep(for: options.blockTimeout) } catch { return }
            }
        }
    }

    private func claimLoop() async {
        let options = handler.options
        var cursors: [ChannelName: StreamPosition] = [:]
        while !Task.isCancelled {
            do { try await router.configuration.clock.sleep(for: options.claimInterval) } catch { return }
            for channel in known.withLock({ $0.channels }) where !Task.isCancelled {
                do {
                    let result = try await router.engine.claim(
                        ClaimRequest(
                            group: handler.group, channel: channel, consumer: consumer, minIdle: options.visibilityTimeout,
                            cursor: cursors[channel] ?? .start, count: options.batchSize))
                    cursors[channel] = result.cursor
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
