import KafkaClient
import Switchyard

extension KafkaEngine {
    /// Creates a group on a channel that is delivered every event after sequence number
    /// `sequence`: where a group that moves here from another engine left off.
    /// - Throws: `group_exists` when the group already exists on the channel (it keeps its position).
    public func createGroup(_ group: String, on channel: ChannelName, afterSequence sequence: Int64) async throws(SwitchyardError) {
        try await load(channel)
        if index.groupPositions(on: channel)[group] != nil {
            throw SwitchyardError(
                .groupExists, "group '\(group)' already exists on '\(channel)' on Kafka, where it stands; it was not moved",
                details: ["group": .string(group), "channel": .string(channel.rawValue)])
        }
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

extension SwitchyardError.Code {
    /// A group to create at a given position exists already.
    public static let groupExists = SwitchyardError.Code("group_exists")
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

extension KafkaEngine {
    /// Per partition of the channel's topic, the offset of the first record whose sequence number
    /// is `sequence` or later (a partition with none gets its end): where a Kafka consumer group
    /// starts to read that sequence number and everything after it.
    public func offsets(fromSequence sequence: Int64, on channel: ChannelName) async throws(SwitchyardError) -> [Int32: Int64] {
        try await load(channel)
        let topic = eventTopic(channel)
        guard let partitions = try await topicList()[topic] else { return [:] }
        let entries = index.entryIDs(on: channel)
        if let first = entries.first, first.sequenceNumber <= sequence {
            let target = entries.first { $0.sequenceNumber >= sequence }?.id ?? .max
            let found = writers.withLock { writers -> [Int32: Int64]? in
                guard let writer = writers[channel] else { return nil }
                var offsets = writer.partitionEnds
                for partition in 0..<partitions where offsets[partition] == nil { offsets[partition] = 0 }
                var seen = Set<Int32>()
                var position = writer.located.partitioningIndex { $0.id < target }
                while position < writer.located.count, seen.count < offsets.count {
                    let entry = writer.located[position]
                    if seen.insert(entry.partition).inserted { offsets[entry.partition] = entry.offset }
                    position += 1
                }
                return offsets
            }
            if let found { return found }
        }
        // Before the index: read the topic's records to find them.
        var offsets: [Int32: Int64] = [:]
        var from: [Int32: Int64] = [:]
        for partition in 0..<partitions {
            from[partition] = KafkaConsumer.beginning
            offsets[partition] = 0
        }
        let retention = retention(channel)
        let ends = writers.withLock { $0[channel]?.partitionEnds ?? [:] }
        var firstFound: [Int32: Int64] = [:]
        for record in try await readTopic(topic, from: from, until: ends.isEmpty ? nil : ends) {
            offsets[record.partition] = max(offsets[record.partition] ?? 0, record.offset + 1)
            guard firstFound[record.partition] == nil, let stored = KafkaRecords.decodeEvent(record, channel: channel, retention: retention),
                stored.event.envelope.sequenceNumber >= sequence
            else { continue }
            firstFound[record.partition] = record.offset
        }
        return offsets.merging(firstFound) { _, first in first }
    }

    /// Commits offsets for a Kafka consumer group (one that is not running: Kafka refuses a commit
    /// from outside a group that has members).
    public func commit(_ offsets: [Int32: Int64], on channel: ChannelName, forKafkaGroup group: String) async throws(SwitchyardError) {
        let topic = eventTopic(channel)
        let consumer: KafkaConsumer
        do {
            consumer = try KafkaConsumer(configuration: configuration.kafka, groupID: group)
        } catch {
            throw Self.unavailable(error, doing: "open the consumer group '\(group)'")
        }
        do {
            try await consumer.commit(Dictionary(uniqueKeysWithValues: offsets.map { (KafkaTopicPartition(topic: topic, partition: $0.key), $0.value) }))
        } catch {
            await consumer.close()
            throw Self.unavailable(error, doing: "commit the offsets of '\(group)'")
        }
        await consumer.close()
    }
}
