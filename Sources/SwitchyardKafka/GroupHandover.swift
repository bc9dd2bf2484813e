import Switchyard

extension KafkaEngine {
    /// Creates a group on a channel that is delivered every event after sequence number
    /// `sequence`: where a group that moves here from another engine left off. Does nothing when
    /// the group exists.
    public func createGroup(_ group: String, on channel: ChannelName, afterSequence sequence: Int64) async throws(SwitchyardError) {
        try await load(channel)
        if index.groupPositions(on: channel)[group] != nil { return }
        let entries = index.entryIDs(on: channel)
        let last: EntryID
        if let done = entries.last(where: { $0.sequenceNumber <= sequence }) {
            last = done.id
        } else if let next = entries.first(where: { $0.sequenceNumber > sequence }) {
            last = next.id.predecessor
        } else {
            last = index.tail(of: channel)?.id ?? .zero
        }
        try await ensureTopic(configuration.topics.groups, partitions: 1, configs: ["cleanup.policy": "compact"])
        try await send([KafkaRecords.group(group, on: channel, lastDelivered: last, topic: configuration.topics.groups)])
        groupStarts.withLock { $0[channel, default: [:]][group] = last }
        index.restoreGroup(group, on: channel, lastDelivered: last)
    }
}

/// Moves a consumer group from a dual-write's primary (Redis) to its Kafka mirror, one group at a time.
///
/// Stop the group's consumers on the primary, move it, and start them on a router over the Kafka
/// engine. The group starts on Kafka at the first event it had not finished on the primary: the
/// lowest sequence number it has pending, or the first it was never delivered. Events after that
/// one that it had already acked are delivered again, so consume through the inbox
/// (`router.consume(group:patterns:inbox:)`), whose record of handled event ids makes their
/// effects happen once across the move.
public enum GroupHandover {
    /// The consumer name the move claims the group's pending entries with, on the primary.
    public static let consumer = "switchyard-handover"

    /// The first sequence number the group has not finished on a channel of `engine`. Claims the
    /// group's pending entries there (to read their sequence numbers): run it once the group's
    /// consumers have stopped. Publishers may go on: events published while it reads can only make
    /// the answer lower (events the group had finished are delivered again), never higher.
    public static func firstUnfinished(group: String, on channel: ChannelName, in engine: any Engine) async throws(SwitchyardError) -> Int64 {
        // The channel before the group: the lag counts the events published in between too.
        let stream = try await engine.info(channel)
        let state = try await engine.groupInfo(group, on: channel)
        var first = max(1, stream.lastSequenceNumber - Int64(state.lag) + 1)
        var cursor = StreamPosition.start
        repeat {
            let claimed = try await engine.claim(ClaimRequest(group: group, channel: channel, consumer: consumer, minIdle: .zero, cursor: cursor, count: 1_000))
            for delivery in claimed.deliveries { first = min(first, delivery.envelope.sequenceNumber) }
            cursor = claimed.cursor
        } while cursor != .start
        return first
    }

    /// Moves the group on each channel; returns where it starts on Kafka (the first sequence
    /// number it will be delivered), per channel.
    @discardableResult
    public static func move(
        group: String, channels: [ChannelName], from primary: any Engine, to kafka: KafkaEngine
    ) async throws(SwitchyardError) -> [ChannelName: Int64] {
        var starts: [ChannelName: Int64] = [:]
        for channel in channels {
            let first = try await firstUnfinished(group: group, on: channel, in: primary)
            try await kafka.createGroup(group, on: channel, afterSequence: first - 1)
            starts[channel] = first
        }
        return starts
    }
}
