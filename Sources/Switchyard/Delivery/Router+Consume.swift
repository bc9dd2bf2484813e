import ServiceLifecycle

extension Router {
    /// Consumes channels matching `patterns` as a member of a consumer group, until the task is
    /// cancelled or a graceful shutdown.
    ///
    /// Each event is delivered to one consumer of the group, at least once: the handler's success
    /// acks it; a throw retries it with exponential backoff; after ``ConsumerOptions/maxDeliveries``
    /// it goes to the channel's dead-letter stream with the reason, and the group moves on. Entries
    /// left pending by a consumer that died are claimed after ``ConsumerOptions/visibilityTimeout``.
    /// The consumer reads its next batch while the handler works on one; the entries it has read
    /// but not handled when it stops stay pending and are claimed the same way.
    /// Channels matching a pattern that appear later are picked up within ``ConsumerOptions/blockTimeout``.
    /// In backtest mode the handler runs inside ``publish(to:payload:metadata:eventID:source:)``.
    /// - Parameters:
    ///   - group: The group's name.
    ///   - patterns: The channels, as names or globs.
    ///   - consumer: This consumer's name within the group; a unique one when `nil`.
    ///   - options: Batching, concurrency, retries, timeouts.
    ///   - handler: Handles one event; throwing means "not handled".
    /// - Throws: ``SwitchyardError`` when the engine fails to set the group up.
    public func consume(
        group: String, patterns: [ChannelPattern], consumer: String? = nil, options: ConsumerOptions = ConsumerOptions(),
        handler: @escaping @Sendable (Envelope) async throws -> Void
    ) async throws {
        try await cancelWhenGracefulShutdown {
            try await self.withConsumer(group: group, patterns: patterns, consumer: consumer, options: options, handler: handler) {
                await Router.suspendUntilCancelled()
            }
        }
    }

    /// Runs a consumer, as ``consume(group:patterns:consumer:options:handler:)`` does, for as long
    /// as `body` runs. The group exists on every channel already matching before `body` starts.
    /// - Returns: What `body` returns.
    public func withConsumer<Result: Sendable>(
        group: String, patterns: [ChannelPattern], consumer: String? = nil, options: ConsumerOptions = ConsumerOptions(),
        handler: @escaping @Sendable (Envelope) async throws -> Void, body: () async throws -> Result
    ) async throws -> Result {
        let groupHandler = GroupHandler(group: group, patterns: patterns, options: options, handler: handler)
        if configuration.mode == .backtest {
            let token = nextInlineToken.add(1, ordering: .relaxed).newValue
            inlineConsumers.withLock { $0.append((token, groupHandler)) }
            defer { inlineConsumers.withLock { $0.removeAll { $0.token == token } } }
            return try await body()
        }
        let loop = ConsumerLoop(router: self, handler: groupHandler, consumer: consumer ?? "\(configuration.source)-\(UInt32.random(in: .min ... .max))")
        _ = try await loop.discover()
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await loop.run() }
            let result = try await body()
            tasks.cancelAll()
            try await tasks.waitForAll()
            return result
        }
    }

    /// Suspends, without polling, until the task is cancelled.
    static func suspendUntilCancelled() async {
        let (stream, continuation) = AsyncStream.makeStream(of: Never.self)
        await withTaskCancellationHandler {
            for await _ in stream {}
        } onCancel: {
            continuation.finish()
        }
    }
}
