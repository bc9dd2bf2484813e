import JSONSchema
import KafkaClient
import Switchyard
import Synchronization

/// One channel's writer: its sequence, dedup marks and where its records are, and the appends
/// waiting for the batch in flight.
struct ChannelWriter: Sendable {
    /// Appends to sequence here, or events another engine sequenced (a dual-write's mirror).
    enum Work: Sendable {
        case append([AppendRequest], then: StateAssignment?)
        case mirror([MirroredEvent])
    }

    struct Queued: Sendable {
        var work: Work
        var continuation: CheckedContinuation<KafkaEngine.Turn, Never>
    }

    /// Where a stored entry's record is.
    struct Located: Sendable {
        var id: EntryID
        var partition: Int32
        var offset: Int64
    }

    /// The last sequence number the brokers acknowledged.
    var lastSequence: Int64 = 0
    /// Marks of acknowledged events and of the batch in flight.
    var dedup = DedupWindow()
    /// Marks of acknowledged events only, oldest first: the window is rebuilt from them when a batch fails.
    var confirmed = EntryLog<DedupWindow.Mark>()
    var queue: [Queued] = []
    var writing = false
    /// Set when a batch failed: the records the brokers may have stored anyway are read back first.
    var needsResync = false
    /// Where each retained entry's record is, in id order.
    var located = EntryLog<Located>()
    /// The next offset of each partition this engine knows of.
    var partitionEnds: [Int32: Int64] = [:]
    /// The id of the last event mirrored from another engine.
    var lastMirroredID = EntryID.zero
    /// Whether this process has written the channel: its records are then indexed as the brokers
    /// acknowledge them, not when the topic is followed.
    var wroteHere = false

    /// Forgets marks whose window has passed.
    mutating func expire(now: Int64) {
        dedup.expire(now: now)
        while let first = confirmed.first, first.expiresAt <= now { confirmed.removeFirst() }
    }

    /// Drops the marks of a failed batch.
    mutating func rebuildDedup(now: Int64) {
        dedup = DedupWindow()
        for index in 0..<confirmed.count where confirmed[index].expiresAt > now {
            _ = dedup.markOrExisting(confirmed[index], now: now)
        }
    }

    /// How many records another writer put in the channel's partitions since this one's last:
    /// the gaps between the partitions' known ends and the offsets the brokers gave this batch.
    func foreignRecords(before deliveries: [KafkaDelivery]) -> Int64 {
        var ends = partitionEnds
        var foreign: Int64 = 0
        for delivery in deliveries {
            if let end = ends[delivery.partition], delivery.offset > end { foreign += delivery.offset - end }
            ends[delivery.partition] = delivery.offset + 1
        }
        return foreign
    }

    /// Records where stored entries are, keeping at most `limit` of them.
    mutating func locate(_ entries: [Located], limit: Int) {
        for entry in entries {
            located.append(entry)
            partitionEnds[entry.partition] = max(partitionEnds[entry.partition] ?? 0, entry.offset + 1)
        }
        while located.count > limit { located.removeFirst() }
    }
}

extension KafkaEngine {
    /// What a queued batch is told: its answer, or that it is now the writer.
    enum Turn: Sendable {
        case answered(Result<[PublishReceipt], SwitchyardError>)
        case write
    }

    /// Appends in order: rate limits for the whole call first, then each channel's events join its
    /// writer's next batch, which is produced at once and acknowledged by the brokers before it is
    /// indexed and answered.
    public func append(_ requests: [AppendRequest]) async throws(SwitchyardError) -> [PublishReceipt] {
        try takeTokens(for: requests)
        var order: [ChannelName] = []
        var byChannel: [ChannelName: [Int]] = [:]
        for (position, request) in requests.enumerated() {
            if byChannel[request.channel] == nil { order.append(request.channel) }
            byChannel[request.channel, default: []].append(position)
        }
        var receipts = [PublishReceipt?](repeating: nil, count: requests.count)
        for channel in order {
            let positions = byChannel[channel]!
            let answered = try await submit(.append(positions.map { requests[$0] }, then: nil), to: channel)
            for (position, receipt) in zip(positions, answered) { receipts[position] = receipt }
        }
        return receipts.map { $0! }
    }

    /// Appends one event and, when it is stored, sets the key in the same produced batch.
    public func append(_ request: AppendRequest, then assignment: StateAssignment) async throws(SwitchyardError) -> PublishReceipt {
        try takeTokens(for: [request])
        try await loadState()
        return try await submit(.append([request], then: assignment), to: request.channel)[0]
    }

    private func takeTokens(for requests: [AppendRequest]) throws(SwitchyardError) {
        let now = clock.now().unixMilliseconds
        try buckets.withLock { buckets throws(SwitchyardError) in
            var needed: [RateKey: (count: Int, limit: ChannelPolicy.RateLimit)] = [:]
            for request in requests {
                guard let limit = request.rules.rateLimit else { continue }
                needed[RateKey(source: request.source, channel: request.channel), default: (0, limit)].count += 1
            }
            var taken: [(RateKey, TokenBucket)] = []
            for (key, need) in needed {
                var bucket = buckets[key] ?? TokenBucket(limit: need.limit, now: now)
                if let wait = bucket.take(need.count, limit: need.limit, now: now) {
                    throw SwitchyardError.rateLimited(channel: key.channel, source: key.source, limit: need.limit, retryAfter: wait)
                }
                taken.append((key, bucket))
            }
            for (key, bucket) in taken { buckets[key] = bucket }
        }
    }

    /// Queues the channel's events for its writer; the first caller to find the writer idle writes
    /// every queued batch until the queue is empty.
    func submit(_ work: ChannelWriter.Work, to channel: ChannelName) async throws(SwitchyardError) -> [PublishReceipt] {
        try await load(channel)
        // The writer's flag is free: write this batch in this task, with what is queued; else wait
        // in the queue for the writer's answer, or for the flag.
        let free = writers.withLock { writers in
            if writers[channel, default: ChannelWriter()].writing { return false }
            writers[channel]!.writing = true
            return true
        }
        var turn = Turn.write
        if !free {
            turn = await withCheckedContinuation { (continuation: CheckedContinuation<Turn, Never>) in
                let lead = writers.withLock { writers in
                    if writers[channel]!.writing {
                        writers[channel]!.queue.append(.init(work: work, continuation: continuation))
                        return false
                    }
                    writers[channel]!.writing = true
                    return true
                }
                if lead { continuation.resume(returning: .write) }
            }
        }
        switch turn {
        case .answered(let result):
            return try result.get()
        case .write:
            let queued = writers.withLock { writers in
                let queued = writers[channel]!.queue
                writers[channel]!.queue = []
                return queued
            }
            let answers: [Result<[PublishReceipt], SwitchyardError>]
            do {
                answers = try await write([work] + queued.map(\.work), to: channel)
            } catch {
                answers = Array(repeating: .failure(error), count: queued.count + 1)
            }
            for (item, answer) in zip(queued, answers.dropFirst()) { item.continuation.resume(returning: .answered(answer)) }
            // Batches that queued meanwhile are written by a task of their own, so this publisher
            // is answered now.
            let more = writers.withLock { writers in
                if writers[channel]!.queue.isEmpty { writers[channel]!.writing = false }
                return !writers[channel]!.queue.isEmpty
            }
            if more { Task { await self.drain(channel) } }
            return try answers[0].get()
        }
    }

    /// Writes queued batches until none is left.
    private func drain(_ channel: ChannelName) async {
        while true {
            let batch = writers.withLock { writers -> [ChannelWriter.Queued]? in
                let queued = writers[channel]!.queue
                writers[channel]!.queue = []
                if queued.isEmpty { writers[channel]!.writing = false }
                return queued.isEmpty ? nil : queued
            }
            guard let batch else { return }
            do {
                let answers = try await write(batch.map(\.work), to: channel)
                for (queued, answer) in zip(batch, answers) { queued.continuation.resume(returning: .answered(answer)) }
            } catch {
                for queued in batch { queued.continuation.resume(returning: .answered(.failure(error))) }
            }
        }
    }

    /// One batch: dedup and sequence numbers under the writer's lock, one produce for all of it,
    /// then the index. A failed produce stores nothing in the index and rolls the sequence back;
    /// the next batch first reads back what the brokers kept.
    private func write(_ batch: [ChannelWriter.Work], to channel: ChannelName) async throws(SwitchyardError) -> [Result<[PublishReceipt], SwitchyardError>] {
        if writers.withLock({ $0[channel]!.needsResync }) { try await resync(channel) }
        let now = clock.now().unixMilliseconds
        let policy = kafkaPolicy(channel)
        let topic = eventTopic(channel)
        var timestamps: [Int64] = []
        for work in batch {
            switch work {
            case .append(let requests, _): timestamps += requests.map(\.timestamp.unixMilliseconds)
            case .mirror(let events): timestamps += events.map(\.envelope.timestamp.unixMilliseconds)
            }
        }
        // Ids for every event, in order; duplicates leave theirs unused, which only skips ids.
        var ids = index.reserveIDs(on: channel, at: timestamps)[...]
        var fresh: [(event: RestoredEvent, mark: DedupWindow.Mark, record: KafkaOutgoingRecord)] = []
        var states: [(StateAssignment, Int64?)] = []
        let retention = retention(channel)
        let durable = channelSettings(channel).durable
        let receipts = writers.withLock { writers -> [Result<[PublishReceipt], SwitchyardError>] in
            var writer = writers.removeValue(forKey: channel)!
            defer { writers[channel] = writer }
            writer.expire(now: now)
            var sequence = writer.lastSequence
            /// Sequences one event: its envelope, mark and record.
            func take(_ envelope: Envelope, id: EntryID, rules: AppendRules, mark: DedupWindow.Mark) -> PublishReceipt {
                let event = RestoredEvent(envelope: envelope, id: id, retention: rules.retention.milliseconds, durable: rules.durable)
                fresh.append((event, mark, KafkaRecords.event(envelope, id: id, rules: rules, dedupUntil: mark.expiresAt, topic: topic, policy: policy)))
                return PublishReceipt(
                    eventID: envelope.eventID, channel: channel, sequenceNumber: envelope.sequenceNumber, streamID: id.position, timestamp: envelope.timestamp)
            }
            return batch.map { work -> Result<[PublishReceipt], SwitchyardError> in
                switch work {
                case .append(let requests, let assignment):
                    var answers: [PublishReceipt] = []
                    for request in requests {
                        let id = ids.removeFirst()
                        let mark = DedupWindow.Mark(
                            eventID: request.eventID, sequenceNumber: sequence + 1, id: id, expiresAt: now &+ request.rules.dedupWindow.milliseconds)
                        if let first = writer.dedup.markOrExisting(mark, now: now) {
                            answers.append(PublishReceipt(
                                eventID: first.eventID, channel: channel, sequenceNumber: first.sequenceNumber, streamID: first.id.position,
                                timestamp: Timestamp(unixMilliseconds: first.id.milliseconds), duplicate: true))
                            continue
                        }
                        sequence += 1
                        let envelope = request.envelope(sequenceNumber: sequence, timestamp: Timestamp(unixMilliseconds: id.milliseconds))
                        answers.append(take(envelope, id: id, rules: request.rules, mark: mark))
                    }
                    if let assignment, answers.last?.duplicate == false {
                        states.append((assignment, assignment.ttl.map { now &+ max(1, $0.milliseconds) }))
                    }
                    return .success(answers)
                case .mirror(let events):
                    let reserved = Array(ids.prefix(events.count))
                    ids = ids.dropFirst(events.count)
                    var answers: [PublishReceipt] = []
                    for (event, reservedID) in zip(events, reserved) where event.envelope.sequenceNumber > sequence {
                        // A channel the brokers hold nothing of starts at the first event given:
                        // the primary may no longer retain the ones before it.
                        guard event.envelope.sequenceNumber == sequence + 1 || sequence == 0 else {
                            return .failure(SwitchyardError(
                                .invalidPosition,
                                "mirroring '\(channel)' needs sequence \(sequence + 1) before \(event.envelope.sequenceNumber)",
                                details: ["expected": .int(sequence + 1), "got": .int(event.envelope.sequenceNumber)]))
                        }
                        sequence = event.envelope.sequenceNumber
                        // The primary's stream id where it is one, so both engines name the event alike.
                        let id = EntryID(event.position).flatMap { $0 > writer.lastMirroredID ? $0 : nil } ?? reservedID
                        writer.lastMirroredID = max(writer.lastMirroredID, id)
                        let rules = AppendRules(retention: .milliseconds(retention), dedupWindow: .seconds(300), rateLimit: nil, durable: durable)
                        let mark = DedupWindow.Mark(eventID: event.envelope.eventID, sequenceNumber: sequence, id: id, expiresAt: now &+ 300_000)
                        _ = writer.dedup.markOrExisting(mark, now: now)
                        answers.append(take(event.envelope, id: id, rules: rules, mark: mark))
                    }
                    return .success(answers)
                }
            }
        }
        guard !fresh.isEmpty else { return receipts }
        do {
            try await ensureEventTopic(channel, retention: fresh[0].event.retention)
            let stateRecords = states.map { KafkaRecords.state($0.0.key, json: $0.0.json, expiresAt: $0.1, topic: configuration.topics.state) }
            let deliveries = try await send(fresh.map(\.record) + stateRecords)
            let foreign = writers.withLock { writers in
                let foreign = writers[channel]!.foreignRecords(before: deliveries)
                let first = !writers[channel]!.wroteHere
                writers[channel]!.wroteHere = true
                writers[channel]!.lastSequence = fresh.last!.event.envelope.sequenceNumber
                for item in fresh { writers[channel]!.confirmed.append(item.mark) }
                writers[channel]!.locate(
                    zip(fresh, deliveries).map { ChannelWriter.Located(id: $0.event.id, partition: $1.partition, offset: $1.offset) },
                    limit: configuration.maxEntriesPerChannel)
                return (foreign, first)
            }
            if foreign.0 > 0 { reportForeignRecords(foreign.0, on: channel) }
            // What this process writes is indexed as it is acknowledged: no need to read it back.
            if foreign.1 { unfollow(topic) }
            index.restore(fresh.map(\.event))
            for (assignment, expiresAt) in states { index.restoreState(assignment.key, json: assignment.json, expiresAt: expiresAt) }
            return receipts
        } catch {
            writers.withLock { writers in
                writers[channel]!.rebuildDedup(now: now)
                writers[channel]!.needsResync = true
            }
            throw error
        }
    }

    /// Creates the channel's topic the first time it is written, with the contract's partitions,
    /// retention and compaction.
    func ensureEventTopic(_ channel: ChannelName, retention: Int64) async throws(SwitchyardError) {
        let policy = kafkaPolicy(channel)
        let kept = policy?.retentionSeconds.map { Int64($0) * 1000 } ?? retention + 7 * 86_400_000
        var configs = ["retention.ms": String(kept)]
        if policy?.compaction == true { configs["cleanup.policy"] = "compact" }
        try await ensureTopic(eventTopic(channel), partitions: Int32(policy?.partitions ?? 1), configs: configs)
    }

    /// Creates a topic unless the engine has seen it.
    func ensureTopic(_ name: String, partitions: Int32, configs: [String: String]) async throws(SwitchyardError) {
        if knownTopics.withLock({ $0[name] != nil }) { return }
        do {
            try await admin.createTopics(
                [KafkaTopicSpec(name: name, partitions: partitions, replicationFactor: configuration.replicationFactor, configs: configs)],
                timeout: configuration.requestTimeout)
        } catch {
            throw Self.unavailable(error, doing: "create topic '\(name)'")
        }
        knownTopics.withLock { $0[name] = partitions }
    }
}
