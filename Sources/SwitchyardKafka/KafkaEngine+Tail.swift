import KafkaClient
import Switchyard
import Synchronization

/// The partitions the engine follows, and where it is in each.
struct TailState: Sendable {
    /// The channel each followed topic holds.
    var channels: [String: ChannelName] = [:]
    /// The next offset to read, per followed partition.
    var positions: [KafkaTopicPartition: Int64] = [:]
    /// Bumped when partitions are added, so the reader assigns them.
    var generation = 0
    /// Channels loaded before their topic existed: followed once it appears.
    var waiting: Set<ChannelName> = []
}

extension KafkaEngine {
    /// Follows a loaded channel's topic from where its load ended, so that what other processes
    /// write reaches this engine's index (its reads, groups and live subscribers).
    func follow(_ channel: ChannelName, topic: String, partitions: Int32) {
        let ends = writers.withLock { $0[channel]?.partitionEnds ?? [:] }
        tail.withLock { tail in
            tail.waiting.remove(channel)
            guard tail.channels[topic] == nil else { return }
            tail.channels[topic] = channel
            for partition in 0..<partitions {
                tail.positions[KafkaTopicPartition(topic: topic, partition: partition)] = ends[partition] ?? 0
            }
            tail.generation += 1
        }
    }

    /// Stops following a topic (this process writes its channel).
    func unfollow(_ topic: String) {
        tail.withLock { tail in
            guard let channel = tail.channels.removeValue(forKey: topic) else { return }
            tail.waiting.remove(channel)
            tail.positions = tail.positions.filter { $0.key.topic != topic }
            tail.generation += 1
        }
    }

    /// Marks a loaded channel whose topic does not exist yet.
    func awaitTopic(of channel: ChannelName) {
        tail.withLock { _ = $0.waiting.insert(channel) }
    }

    /// Reads the followed partitions until cancelled: records of channels this process has not
    /// written are indexed in sequence order (those it wrote are indexed as they are acknowledged).
    func runTail() async {
        let reader: KafkaConsumer
        do {
            var settings = configuration.kafka
            settings.properties = ["fetch.wait.max.ms": "20"].merging(settings.properties) { $1 }
            reader = try KafkaConsumer(configuration: settings, groupID: nil)
        } catch {
            logger.error("cannot follow the topics", metadata: ["error": "\(error)"])
            return
        }
        var assigned = -1
        var lastDiscovery = ContinuousClock.now
        while !Task.isCancelled {
            let (generation, positions) = tail.withLock { ($0.generation, $0.positions) }
            do {
                if generation != assigned {
                    try reader.assign(positions)
                    assigned = generation
                }
                if positions.isEmpty {
                    try await Task.sleep(for: .milliseconds(100))
                } else {
                    apply(try await reader.poll(maxRecords: 2_000, timeout: .milliseconds(100)))
                }
                if ContinuousClock.now - lastDiscovery > .seconds(1) {
                    lastDiscovery = ContinuousClock.now
                    try await discoverTopics()
                }
            } catch is CancellationError {
                break
            } catch {
                logger.warning("following the topics failed; retrying", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
        await reader.close()
    }

    /// Follows the topics that appeared for channels loaded before them.
    private func discoverTopics() async throws(SwitchyardError) {
        let waiting = tail.withLock { $0.waiting }
        guard !waiting.isEmpty else { return }
        let topics = try await topicList()
        for channel in waiting {
            let topic = eventTopic(channel)
            guard let partitions = topics[topic] else { continue }
            if writers.withLock({ $0[channel]?.wroteHere ?? false }) {
                tail.withLock { _ = $0.waiting.remove(channel) }
            } else {
                follow(channel, topic: topic, partitions: partitions)
            }
        }
    }

    /// Indexes what other processes wrote, in each channel's sequence order.
    private func apply(_ records: [KafkaRecord]) {
        guard !records.isEmpty else { return }
        var byChannel: [ChannelName: [KafkaRecord]] = [:]
        tail.withLock { tail in
            for record in records {
                tail.positions[KafkaTopicPartition(topic: record.topic, partition: record.partition)] = record.offset + 1
                if let channel = tail.channels[record.topic] { byChannel[channel, default: []].append(record) }
            }
        }
        let now = clock.now().unixMilliseconds
        for (channel, records) in byChannel where !writers.withLock({ $0[channel]?.wroteHere ?? true }) {
            let retention = retention(channel)
            let decoded = records.compactMap { KafkaRecords.decodeEvent($0, channel: channel, retention: retention) }
                .sorted { $0.event.envelope.sequenceNumber < $1.event.envelope.sequenceNumber }
            let fresh = writers.withLock { writers -> [KafkaRecords.StoredRecord] in
                guard var writer = writers[channel], !writer.wroteHere else { return [] }
                let fresh = decoded.filter { $0.event.envelope.sequenceNumber > writer.lastSequence }
                writer.absorb(fresh, now: now, limit: configuration.maxEntriesPerChannel)
                writers[channel] = writer
                return fresh
            }
            if !fresh.isEmpty { index.restore(fresh.map(\.event)) }
        }
    }
}
