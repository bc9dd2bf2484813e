import JSONSchema
import KafkaClient
import Switchyard
import Synchronization

extension KafkaEngine {
    /// Loads a channel from its topics the first time it is used: its events from the oldest a
    /// group still needs or the retention's start, its groups where they committed, and its dead
    /// letters. Concurrent first uses wait for one load.
    func load(_ channel: ChannelName) async throws(SwitchyardError) {
        try await loads.run("channel " + channel.rawValue) { () async throws(SwitchyardError) in
            try await self.recover(channel)
        }
    }

    /// Loads the state topic once.
    func loadState() async throws(SwitchyardError) {
        try await loads.run("state") { () async throws(SwitchyardError) in
            let topic = self.configuration.topics.state
            guard try await self.topicList()[topic] != nil else { return }
            let now = self.clock.now().unixMilliseconds
            var latest: [StateKey: (json: String, expiresAt: Int64?)] = [:]
            for record in try await self.readTopic(topic, from: [0: KafkaConsumer.beginning]) {
                guard let (key, json, expiresAt) = KafkaRecords.decodeState(record) else { continue }
                latest[key] = (json, expiresAt)
            }
            for (key, value) in latest where value.expiresAt.map({ $0 > now }) ?? true {
                self.index.restoreState(key, json: value.json, expiresAt: value.expiresAt)
            }
        }
    }

    /// Loads the groups topic once: where each group started on each channel.
    func loadGroupStarts() async throws(SwitchyardError) {
        try await loads.run("groups") { () async throws(SwitchyardError) in
            let topic = self.configuration.topics.groups
            guard try await self.topicList()[topic] != nil else { return }
            let records = try await self.readTopic(topic, from: [0: KafkaConsumer.beginning])
            self.groupStarts.withLock { starts in
                for record in records {
                    guard let (channel, group, last) = KafkaRecords.decodeGroup(record) else { continue }
                    if starts[channel]?[group] == nil { starts[channel, default: [:]][group] = last }
                }
            }
        }
    }

    private func recover(_ channel: ChannelName) async throws(SwitchyardError) {
        writers.withLock { if $0[channel] == nil { $0[channel] = ChannelWriter() } }
        try await loadGroupStarts()
        let topics = try await topicList()
        let starts = groupStarts.withLock { $0[channel] ?? [:] }
        let topic = eventTopic(channel)
        var records: [KafkaRecords.StoredRecord] = []
        var committedByGroup: [String: [Int32: Int64]] = [:]
        if let partitions = topics[topic] {
            let tps = (0..<partitions).map { KafkaTopicPartition(topic: topic, partition: $0) }
            for group in starts.keys { committedByGroup[group] = try await committedOffsets(of: group, tps) }
            // From the retention's start, or earlier where a group has not committed past it; and
            // always the last record, which holds the sequence to go on from.
            var from = try await startOffsets(tps, since: clock.now().unixMilliseconds - retention(channel))
            for tp in tps {
                for group in starts.keys {
                    from[tp.partition] = min(from[tp.partition] ?? 0, committedByGroup[group]?[tp.partition] ?? 0)
                }
            }
            let retention = retention(channel)
            records = try await readTopic(topic, from: from).compactMap { KafkaRecords.decodeEvent($0, channel: channel, retention: retention) }
            records.sort { $0.event.envelope.sequenceNumber < $1.event.envelope.sequenceNumber }
        }
        // Groups first, so that the index's trim guard knows what they still need.
        for (group, start) in starts {
            index.restoreGroup(group, on: channel, lastDelivered: lastDelivered(records, committed: committedByGroup[group] ?? [:], start: start))
        }
        index.restore(records.map(\.event))
        let now = clock.now().unixMilliseconds
        writers.withLock { writers in
            writers[channel]!.absorb(records, now: now, limit: configuration.maxEntriesPerChannel)
        }
        try await recoverDeadLetters(channel, exists: topics[configuration.topics.deadLetters(channel)] != nil)
        if let partitions = topics[topic] {
            knownTopics.withLock { $0[topic] = partitions }
            follow(channel, topic: topic, partitions: partitions)
        } else {
            awaitTopic(of: channel)
        }
    }

    /// The last entry a group counts as delivered: before the first record, in any partition, at
    /// or after the offset it committed; where it never committed, where it started.
    private func lastDelivered(_ records: [KafkaRecords.StoredRecord], committed: [Int32: Int64], start: EntryID) -> EntryID {
        var firstNotDone: EntryID?
        for record in records {
            let done = committed[record.partition].map { record.offset < $0 } ?? (record.event.id <= start)
            if !done, firstNotDone.map({ record.event.id < $0 }) ?? true { firstNotDone = record.event.id }
        }
        guard let firstNotDone else { return max(start, records.map(\.event.id).max() ?? start) }
        return firstNotDone.predecessor
    }

    private func recoverDeadLetters(_ channel: ChannelName, exists: Bool) async throws(SwitchyardError) {
        guard exists else { return }
        let topic = configuration.topics.deadLetters(channel)
        var letters: [(DeadLetter, StreamPosition)] = []
        var resolved = Set<StreamPosition>()
        for record in try await readTopic(topic, from: [0: KafkaConsumer.beginning]) {
            switch KafkaRecords.decodeDeadLetter(record) {
            case .letter(let letter, let pending)?: letters.append((letter, pending))
            case .resolved(let ids)?: resolved.formUnion(ids)
            case nil: continue
            }
        }
        for (letter, _) in letters where !resolved.contains(letter.id) {
            index.restoreDeadLetter(letter, on: channel, pendingPosition: nil)
        }
        knownTopics.withLock { $0[topic] = 1 }
    }

    /// After a failed batch: reads back what the brokers stored after the last acknowledged
    /// record, indexes it, and moves the sequence on past it.
    func resync(_ channel: ChannelName) async throws(SwitchyardError) {
        let topic = eventTopic(channel)
        let (ends, lastSequence) = writers.withLock { ($0[channel]!.partitionEnds, $0[channel]!.lastSequence) }
        let partitions = try await topicList()[topic] ?? 0
        var from: [Int32: Int64] = [:]
        for partition in 0..<partitions { from[partition] = ends[partition] ?? KafkaConsumer.beginning }
        let retention = retention(channel)
        let records = try await readTopic(topic, from: from)
            .compactMap { KafkaRecords.decodeEvent($0, channel: channel, retention: retention) }
            .filter { $0.event.envelope.sequenceNumber > lastSequence }
            .sorted { $0.event.envelope.sequenceNumber < $1.event.envelope.sequenceNumber }
        let now = clock.now().unixMilliseconds
        writers.withLock { writers in
            writers[channel]!.rebuildDedup(now: now)
            writers[channel]!.absorb(records, now: now, limit: configuration.maxEntriesPerChannel)
            writers[channel]!.needsResync = false
        }
        index.restore(records.map(\.event))
    }

    // MARK: Brokers

    /// The topics on the brokers, with their partition counts.
    func topicList() async throws(SwitchyardError) -> [String: Int32] {
        do {
            let topics = try await admin.topics(timeout: configuration.requestTimeout)
            return Dictionary(topics.map { ($0.name, $0.partitions) }, uniquingKeysWith: { first, _ in first })
        } catch {
            throw Self.unavailable(error, doing: "list the topics")
        }
    }

    /// Every record of a topic's partitions from the given offsets to the end, or to `ends` (the
    /// first offset not wanted, per partition): the end is reached when the partitions' high
    /// watermarks are passed and a poll finds nothing more. Fails when no record comes for
    /// ``Configuration/requestTimeout`` before the end.
    func readTopic(_ topic: String, from starts: [Int32: Int64], until ends: [Int32: Int64]? = nil) async throws(SwitchyardError) -> [KafkaRecord] {
        var settings = configuration.kafka
        settings.properties = ["fetch.wait.max.ms": "20"].merging(settings.properties) { $1 }
        let reader: KafkaConsumer
        do {
            reader = try KafkaConsumer(configuration: settings, groupID: nil)
        } catch {
            throw Self.unavailable(error, doing: "read '\(topic)'")
        }
        do {
            var highs: [Int32: Int64] = [:]
            for partition in starts.keys {
                highs[partition] = try await reader.watermarks(KafkaTopicPartition(topic: topic, partition: partition), timeout: configuration.requestTimeout).high
            }
            try reader.assign(Dictionary(uniqueKeysWithValues: starts.map { (KafkaTopicPartition(topic: topic, partition: $0.key), $0.value) }))
            var next = starts.mapValues { max(0, $0) }
            var records: [KafkaRecord] = []
            var deadline = ContinuousClock.now + configuration.requestTimeout
            while true {
                if let ends, ends.allSatisfy({ next[$0.key, default: 0] >= $0.value }) { break }
                let batch = try await reader.poll(maxRecords: 10_000, timeout: .milliseconds(250))
                if !batch.isEmpty { deadline = ContinuousClock.now + configuration.requestTimeout }
                for record in batch {
                    next[record.partition] = record.offset + 1
                    if let end = ends?[record.partition], record.offset >= end { continue }
                    records.append(record)
                }
                if batch.isEmpty && highs.allSatisfy({ next[$0.key, default: 0] >= $0.value }) { break }
                if ContinuousClock.now > deadline {
                    await reader.close()
                    throw SwitchyardError(.engineUnavailable, "reading '\(topic)' took longer than \(configuration.requestTimeout)")
                }
            }
            await reader.close()
            return records
        } catch let error as KafkaError {
            await reader.close()
            throw Self.unavailable(error, doing: "read '\(topic)'")
        } catch {
            throw error as! SwitchyardError
        }
    }

    /// Per partition, where a load starts: the first offset at or after `since`, but no later than
    /// the last record. (Brokers without a time index answer 0, which only makes a load read more.)
    func startOffsets(_ partitions: [KafkaTopicPartition], since: Int64) async throws(SwitchyardError) -> [Int32: Int64] {
        let reader: KafkaConsumer
        do {
            reader = try KafkaConsumer(configuration: configuration.kafka, groupID: nil)
        } catch {
            throw Self.unavailable(error, doing: "read offsets")
        }
        var starts: [Int32: Int64] = [:]
        do {
            for partition in partitions {
                let high = try await reader.watermarks(partition, timeout: configuration.requestTimeout).high
                let atTime = try await reader.offsetForTime(partition, milliseconds: since, timeout: configuration.requestTimeout)
                let last = max(0, high - 1)
                starts[partition.partition] = max(0, atTime < 0 ? last : min(atTime, last))
            }
        } catch {
            await reader.close()
            throw Self.unavailable(error, doing: "read the offsets of '\(partitions.first?.topic ?? "")'")
        }
        await reader.close()
        return starts
    }

    /// The consumer that commits a group's offsets (it never joins the group: it commits as a
    /// simple consumer, which Kafka's tools show with its lag).
    func committer(_ group: String) throws(SwitchyardError) -> KafkaConsumer {
        if let existing = committers.withLock({ $0[group] }) { return existing }
        let consumer: KafkaConsumer
        do {
            consumer = try KafkaConsumer(configuration: configuration.kafka, groupID: configuration.topics.consumerGroup(group))
        } catch {
            throw Self.unavailable(error, doing: "open the consumer group of '\(group)'")
        }
        return committers.withLock { committers in
            if let existing = committers[group] { return existing }
            committers[group] = consumer
            return consumer
        }
    }

    private func committedOffsets(of group: String, _ partitions: [KafkaTopicPartition]) async throws(SwitchyardError) -> [Int32: Int64] {
        do {
            let offsets = try await committer(group).committed(partitions, timeout: configuration.requestTimeout)
            return Dictionary(offsets.map { ($0.key.partition, $0.value) }, uniquingKeysWith: { first, _ in first })
        } catch let error as KafkaError {
            throw Self.unavailable(error, doing: "read the offsets of group '\(group)'")
        } catch {
            throw error as! SwitchyardError
        }
    }

    /// Commits where each group stands on each channel: per partition, the offset of the first
    /// record it has not acked (or not been delivered), so that a restart delivers again from
    /// there. Failures are logged and retried on the next round.
    func commitGroupPositions() async {
        let channels = writers.withLock { Array($0.keys) }
        for channel in channels {
            let positions = index.groupPositions(on: channel)
            guard !positions.isEmpty else { continue }
            let topic = eventTopic(channel)
            for (group, position) in positions {
                let offsets = writers.withLock { writers -> [Int32: Int64] in
                    guard let writer = writers[channel] else { return [:] }
                    return writer.firstOffsets(notBefore: position.lowestPending, after: position.lastDelivered)
                }
                var changed: [KafkaTopicPartition: Int64] = [:]
                for (partition, offset) in offsets {
                    let key = "\(group) \(topic) \(partition)"
                    if committed.withLock({ $0[key] }) != offset { changed[KafkaTopicPartition(topic: topic, partition: partition)] = offset }
                }
                guard !changed.isEmpty else { continue }
                do {
                    try await committer(group).commit(changed)
                    committed.withLock { committed in
                        for (tp, offset) in changed { committed["\(group) \(topic) \(tp.partition)"] = offset }
                    }
                } catch {
                    logger.warning("could not commit a group's offsets", metadata: ["group": "\(group)", "topic": "\(topic)", "error": "\(error)"])
                }
            }
        }
    }
}

extension ChannelWriter {
    /// Takes in records read from the channel's topic, in sequence order: the sequence goes on
    /// from them, their dedup marks still open are kept, and where they are is recorded.
    mutating func absorb(_ records: [KafkaRecords.StoredRecord], now: Int64, limit: Int) {
        for record in records {
            lastSequence = max(lastSequence, record.event.envelope.sequenceNumber)
            guard record.dedupUntil > now else { continue }
            let mark = DedupWindow.Mark(
                eventID: record.event.envelope.eventID, sequenceNumber: record.event.envelope.sequenceNumber, id: record.event.id,
                expiresAt: record.dedupUntil)
            if dedup.markOrExisting(mark, now: now) == nil { confirmed.append(mark) }
        }
        locate(records.sorted { $0.event.id < $1.event.id }.map { .init(id: $0.event.id, partition: $0.partition, offset: $0.offset) }, limit: limit)
    }

    /// Per partition, the offset of the first record at or after `lowestPending` (when the group has
    /// entries pending) or after `lastDelivered`; a partition with none gets its end.
    func firstOffsets(notBefore lowestPending: EntryID?, after lastDelivered: EntryID) -> [Int32: Int64] {
        var offsets = partitionEnds
        var found = Set<Int32>()
        var position = located.partitioningIndex { entry in
            if let lowestPending { return entry.id < lowestPending }
            return entry.id <= lastDelivered
        }
        while position < located.count, found.count < offsets.count {
            let entry = located[position]
            if found.insert(entry.partition).inserted { offsets[entry.partition] = entry.offset }
            position += 1
        }
        return offsets
    }
}

extension EntryID {
    /// The id just before this one.
    var predecessor: EntryID {
        counter > 0 ? EntryID(milliseconds: milliseconds, counter: counter - 1) : EntryID(milliseconds: milliseconds - 1, counter: .max)
    }
}

/// Runs a piece of work once per key; callers that arrive while it runs wait for it, and a
/// failure lets the next caller try again.
final class OnceEach: Sendable {
    private enum Slot {
        case running([CheckedContinuation<Result<Void, SwitchyardError>, Never>])
        case done
    }

    private let slots = Mutex<[String: Slot]>([:])

    func run(_ key: String, _ body: () async throws(SwitchyardError) -> Void) async throws(SwitchyardError) {
        let lead = slots.withLock { slots -> Bool? in
            switch slots[key] {
            case .done?: return nil
            case .running?: return false
            case nil:
                slots[key] = .running([])
                return true
            }
        }
        guard let lead else { return }
        if !lead {
            let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Void, SwitchyardError>, Never>) in
                let now = slots.withLock { slots -> Result<Void, SwitchyardError>? in
                    switch slots[key] {
                    case .running(let waiting)?:
                        slots[key] = .running(waiting + [continuation])
                        return nil
                    case .done?: return .success(())
                    case nil: return .failure(SwitchyardError(.engineUnavailable, "loading '\(key)' failed; try again"))
                    }
                }
                if let now { continuation.resume(returning: now) }
            }
            return try result.get()
        }
        let outcome: Result<Void, SwitchyardError>
        do {
            try await body()
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        let waiting = slots.withLock { slots -> [CheckedContinuation<Result<Void, SwitchyardError>, Never>] in
            guard case .running(let waiting)? = slots[key] else { return [] }
            if case .success = outcome { slots[key] = .done } else { slots[key] = nil }
            return waiting
        }
        for continuation in waiting { continuation.resume(returning: outcome) }
        try outcome.get()
    }
}

extension KafkaEngine {
    /// The first sequence number the index holds (or the next one, when it holds none), when a
    /// read from `start` wants events before it; `nil` when the index has all it wants.
    func olderThanIndex(_ channel: ChannelName, _ start: ReadStart) async throws(SwitchyardError) -> Int64? {
        let lastSequence = writers.withLock { $0[channel]?.lastSequence ?? 0 }
        let first = index.firstEntry(on: channel)
        let firstSequence = first?.sequenceNumber ?? lastSequence + 1
        guard firstSequence > 1 else { return nil }
        switch start {
        case .beginning:
            return firstSequence
        case .sequence(let number):
            return number < firstSequence ? firstSequence : nil
        case .time(let time):
            guard let first else { return firstSequence }
            return time.unixMilliseconds < first.id.milliseconds ? firstSequence : nil
        case .after(let position):
            guard let id = EntryID(position) else { return nil }
            guard let first else { return firstSequence }
            return id < first.id ? firstSequence : nil
        }
    }

    /// The channel's events from its topic that come before sequence number `before`, from `start`,
    /// oldest first.
    func readLog(_ channel: ChannelName, from start: ReadStart, before: Int64, limit: Int) async throws(SwitchyardError) -> [StoredEvent] {
        let topic = eventTopic(channel)
        guard let partitions = try await topicList()[topic] else { return [] }
        let first = index.firstEntry(on: channel)
        let (ends, firstOffset, lastSequence) = writers.withLock { writers -> ([Int32: Int64], Int64?, Int64) in
            guard let writer = writers[channel] else { return ([:], nil, 0) }
            // The offset of the index's first entry, or of the next record when the index holds none.
            var offset = writer.partitionEnds[0]
            if let first {
                let position = writer.located.partitioningIndex { $0.id < first.id }
                offset = position < writer.located.count && writer.located[position].id == first.id ? writer.located[position].offset : nil
            }
            return (writer.partitionEnds, offset, writer.lastSequence)
        }
        var from: [Int32: Int64] = [:]
        for partition in 0..<partitions { from[partition] = KafkaConsumer.beginning }
        switch start {
        case .time(let time):
            from = try await startOffsets((0..<partitions).map { KafkaTopicPartition(topic: topic, partition: $0) }, since: time.unixMilliseconds)
        case .sequence(let number) where partitions == 1:
            // One partition written by one writer: offsets follow sequence numbers.
            if let firstOffset {
                from[0] = max(0, firstOffset - ((first?.sequenceNumber ?? lastSequence + 1) - number))
            }
        default:
            break
        }
        let retention = retention(channel)
        let records = try await readTopic(topic, from: from, until: ends.isEmpty ? nil : ends)
            .compactMap { KafkaRecords.decodeEvent($0, channel: channel, retention: retention) }
            .filter { record in
                let envelope = record.event.envelope
                guard envelope.sequenceNumber < before else { return false }
                switch start {
                case .beginning: return true
                case .sequence(let number): return envelope.sequenceNumber >= number
                case .time(let time): return record.event.id.milliseconds >= time.unixMilliseconds
                case .after(let position): return EntryID(position).map { record.event.id > $0 } ?? false
                }
            }
            .sorted { $0.event.envelope.sequenceNumber < $1.event.envelope.sequenceNumber }
        return records.prefix(limit).map { StoredEvent(position: $0.event.id.position, envelope: $0.event.envelope) }
    }
}
