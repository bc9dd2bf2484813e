extension Router {
    /// The channel's dead letters, oldest first: each with its envelope, group, reason,
    /// deliveries and time.
    public func deadLetters(_ channel: ChannelName, limit: Int = 1000) async throws(SwitchyardError) -> [DeadLetter] {
        try await engine.deadLetters(channel, limit: limit)
    }

    /// Delivers dead letters again to the groups that gave up on them and removes them from the
    /// dead-letter stream. In backtest mode the groups' handlers run before this returns.
    /// - Returns: How many dead letters were requeued.
    /// - Parameters:
    ///   - channel: The channel.
    ///   - ids: The dead letters' ids.
    ///   - who: Who asks, for the audit trail (a token's subject); the router's source when `nil`.
    @discardableResult
    public func requeueDeadLetters(_ channel: ChannelName, ids: [StreamPosition], by who: String? = nil) async throws(SwitchyardError) -> Int {
        let audited = await deadLetterAudit(.requeue, channel, ids: ids, by: who)
        guard configuration.mode == .backtest else {
            let found = try await engine.requeueDeadLetters(channel, ids: ids)
            configuration.audit?.record(audited)
            return found
        }
        configuration.audit?.record(audited)
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
    /// - Parameters:
    ///   - channel: The channel.
    ///   - ids: The dead letters' ids.
    ///   - who: Who asks, for the audit trail (a token's subject); the router's source when `nil`.
    @discardableResult
    public func dropDeadLetters(_ channel: ChannelName, ids: [StreamPosition], by who: String? = nil) async throws(SwitchyardError) -> Int {
        let audited = await deadLetterAudit(.drop, channel, ids: ids, by: who)
        let found = try await engine.dropDeadLetters(channel, ids: ids)
        configuration.audit?.record(audited)
        return found
    }

    /// A group's pending entries and lag on a channel.
    public func groupInfo(_ group: String, on channel: ChannelName) async throws(SwitchyardError) -> GroupInfo {
        try await engine.groupInfo(group, on: channel)
    }

    /// A group's state and its channel's info, read so that they agree: the channel is read again
    /// after the group, and both are read again while an event was stored between the two reads,
    /// three pairs of reads at most.
    ///
    /// A group's ``GroupInfo/lag`` counts the entries stored after its last delivered one, so the
    /// entry it was last delivered is ``ChannelInfo/lastSequenceNumber`` minus the lag only when
    /// both were read with no publish between them; a channel read before such a publish places
    /// that entry one too far back. On a channel stored to faster than three pairs of reads the
    /// last pair is returned, and a position derived from it may be off by the entries stored
    /// between its reads.
    /// - Parameters:
    ///   - group: The group.
    ///   - channel: The channel.
    ///   - before: The channel's info read before this call, which saves a read when nothing was stored since.
    /// - Throws: ``SwitchyardError`` `group_not_found`, or the engine's error.
    public func groupInfoWithChannel(
        _ group: String, on channel: ChannelName, channelReadBefore before: ChannelInfo? = nil
    ) async throws(SwitchyardError) -> (group: GroupInfo, channel: ChannelInfo) {
        var before = if let before { before } else { try await engine.info(channel) }
        var state = try await engine.groupInfo(group, on: channel)
        var after = try await engine.info(channel)
        for _ in 1..<3 where after.lastSequenceNumber != before.lastSequenceNumber {
            before = after
            state = try await engine.groupInfo(group, on: channel)
            after = try await engine.info(channel)
        }
        return (state, after)
    }
}
