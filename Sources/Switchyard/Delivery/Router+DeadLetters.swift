extension Router {
    /// The channel's dead letters, oldest first: each with its envelope, group, reason,
    /// deliveries and time.
    public func deadLetters(_ channel: ChannelName, limit: Int = 1000) async throws(SwitchyardError) -> [DeadLetter] {
        try await engine.deadLetters(channel, limit: limit)
    }

    /// Delivers dead letters again to the groups that gave up on them and removes them from the
    /// dead-letter stream. In backtest mode the groups' handlers run before this returns.
    /// - Returns: How many dead letters were requeued.
    @discardableResult
    public func requeueDeadLetters(_ channel: ChannelName, ids: [StreamPosition]) async throws(SwitchyardError) -> Int {
        guard configuration.mode == .backtest else {
            return try await engine.requeueDeadLetters(channel, ids: ids)
        }
        let wanted = Set(ids)
        let letters = try await engine.deadLetters(channel, limit: .max).filter { wanted.contains($0.id) }
        _ = try await engine.dropDeadLetters(channel, ids: letters.map(\.id))
        let consumers = inlineConsumers.withLock { $0 }
        for letter in letters {
            let delivery = Delivery(channel: channel, position: letter.id, envelope: letter.envelope, deliveries: 1)
            for (_, consumer) in consumers where consumer.group == letter.group && consumer.matches(channel) {
                await consumer.handle(delivery, router: self)
            }
        }
        return letters.count
    }

    /// Removes dead letters for good.
    /// - Returns: How many were removed.
    @discardableResult
    public func dropDeadLetters(_ channel: ChannelName, ids: [StreamPosition]) async throws(SwitchyardError) -> Int {
        try await engine.dropDeadLetters(channel, ids: ids)
    }

    /// A group's pending entries and lag on a channel.
    public func groupInfo(_ group: String, on channel: ChannelName) async throws(SwitchyardError) -> GroupInfo {
        try await engine.groupInfo(group, on: channel)
    }
}
