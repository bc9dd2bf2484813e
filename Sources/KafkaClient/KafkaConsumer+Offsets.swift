import CRDKafka

extension KafkaConsumer {
    /// Moves the reading position of an assigned partition to `offset` (or ``beginning`` or ``end``).
    /// - Throws: ``KafkaError`` when the partition is not assigned or the seek fails.
    public func seek(_ partition: KafkaTopicPartition, to offset: Int64) async throws(KafkaError) {
        try await self.thread.run("consumer") { [handle] () throws(KafkaError) in
            let list = PartitionList([partition: offset])
            defer { list.destroy() }
            if let error = crdk_seek_partitions(handle.pointer, list.pointer, 10_000) {
                let code = crdk_error_code(error)
                let text = String(cString: crdk_error_string(error))
                crdk_error_destroy(error)
                throw KafkaError(rdkafka: code, "seeking \(partition) to \(offset)", detail: text)
            }
            if let failed = list.firstError { throw handle.error(failed.code, "seeking \(failed.partition) to \(offset)") }
        }
    }

    /// Commits, for each partition, `offset`: the next offset to read (the last processed one + 1).
    /// Returns once the group coordinator has stored them.
    /// - Throws: ``KafkaError`` for a plain reader, or when the commit fails.
    public func commit(_ offsets: [KafkaTopicPartition: Int64]) async throws(KafkaError) {
        guard !offsets.isEmpty else { return }
        try self.requireGroup("commit offsets")
        try await self.thread.run("consumer") { [handle] () throws(KafkaError) in
            let list = PartitionList(offsets)
            defer { list.destroy() }
            let status = crdk_commit(handle.pointer, list.pointer, 0)
            guard status == CRDK_ERR_NO_ERROR else { throw handle.error(status, "committing offsets") }
            if let failed = list.firstError { throw handle.error(failed.code, "committing the offset of \(failed.partition)") }
        }
    }

    /// The group's committed offsets (each the next offset to read) of `partitions`; a partition
    /// with none committed is absent from the result.
    /// - Throws: ``KafkaError`` for a plain reader, or when the group coordinator does not answer
    ///   within `timeout`.
    public func committed(_ partitions: [KafkaTopicPartition], timeout: Duration) async throws(KafkaError) -> [KafkaTopicPartition: Int64] {
        guard !partitions.isEmpty else { return [:] }
        try self.requireGroup("read committed offsets")
        return try await self.thread.run("consumer") { [handle] () throws(KafkaError) -> [KafkaTopicPartition: Int64] in
            let list = PartitionList(partitions)
            defer { list.destroy() }
            let status = crdk_committed(handle.pointer, list.pointer, timeout.kafkaMilliseconds)
            guard status == CRDK_ERR_NO_ERROR else { throw handle.error(status, "reading committed offsets") }
            if let failed = list.firstError { throw handle.error(failed.code, "reading the committed offset of \(failed.partition)") }
            var offsets: [KafkaTopicPartition: Int64] = [:]
            for entry in list.entries where entry.offset != Int64(CRDK_OFFSET_INVALID) { offsets[entry.partition] = entry.offset }
            return offsets
        }
    }

    /// A partition's low watermark (its first offset) and high watermark (the offset after its
    /// last record), asked of the broker.
    ///
    /// Tansu, the test broker, reports a high watermark that is too low when a partition holds
    /// batches of several records: where the end matters, read to it instead.
    public func watermarks(_ partition: KafkaTopicPartition, timeout: Duration) async throws(KafkaError) -> (low: Int64, high: Int64) {
        let (low, high) = try await self.thread.run("consumer") { [handle] () throws(KafkaError) -> (Int64, Int64) in
            var low: Int64 = 0
            var high: Int64 = 0
            let status = crdk_query_watermark_offsets(handle.pointer, partition.topic, partition.partition, &low, &high, timeout.kafkaMilliseconds)
            guard status == CRDK_ERR_NO_ERROR else { throw handle.error(status, "reading the watermarks of \(partition)") }
            return (low, high)
        }
        return (low, high)
    }

    /// The offset of a partition's first record whose timestamp is at or after `milliseconds`
    /// (since 1970); ``end`` when there is none.
    ///
    /// Tansu, the test broker, always answers 0: a caller that seeks there must still skip the
    /// records older than it wants, by their timestamps.
    public func offsetForTime(_ partition: KafkaTopicPartition, milliseconds: Int64, timeout: Duration) async throws(KafkaError) -> Int64 {
        try await self.thread.run("consumer") { [handle] () throws(KafkaError) -> Int64 in
            let list = PartitionList([partition: milliseconds])
            defer { list.destroy() }
            let status = crdk_offsets_for_times(handle.pointer, list.pointer, timeout.kafkaMilliseconds)
            guard status == CRDK_ERR_NO_ERROR else { throw handle.error(status, "looking up the offset of \(partition) at \(milliseconds) ms") }
            guard let entry = list.entries.first else { return Self.end }
            guard entry.error == CRDK_ERR_NO_ERROR else { throw handle.error(entry.error, "looking up the offset of \(partition) at \(milliseconds) ms") }
            return entry.offset
        }
    }

    private func requireGroup(_ action: String) throws(KafkaError) {
        guard self.groupID != nil else {
            throw KafkaError(code: KafkaError.invalidConfiguration, message: "a consumer without a group ID cannot \(action)")
        }
    }
}
