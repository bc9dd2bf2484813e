import CRDKafka

/// A librdkafka partition list (`rd_kafka_topic_partition_list_t`), destroyed by ``destroy()``.
struct PartitionList {
    let pointer: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>

    /// A list of `offsets`' partitions, each with its offset.
    init(_ offsets: [KafkaTopicPartition: Int64]) {
        self.pointer = crdk_topic_partition_list_new(Int32(clamping: offsets.count))
        for (partition, offset) in offsets.sorted(by: { ($0.key.topic, $0.key.partition) < ($1.key.topic, $1.key.partition) }) {
            crdk_topic_partition_list_add(self.pointer, partition.topic, partition.partition).pointee.offset = offset
        }
    }

    /// A list of `partitions`, with librdkafka's default offset.
    init(_ partitions: [KafkaTopicPartition]) {
        self.pointer = crdk_topic_partition_list_new(Int32(clamping: partitions.count))
        for partition in partitions {
            _ = crdk_topic_partition_list_add(self.pointer, partition.topic, partition.partition)
        }
    }

    /// A list of topics (a subscription: the partition number is unused).
    init(topics: [String]) {
        self.pointer = crdk_topic_partition_list_new(Int32(clamping: topics.count))
        for topic in topics {
            _ = crdk_topic_partition_list_add(self.pointer, topic, CRDK_PARTITION_UA)
        }
    }

    /// Takes over a list librdkafka made.
    init(taking pointer: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) {
        self.pointer = pointer
    }

    var elements: UnsafeMutableBufferPointer<rd_kafka_topic_partition_t> {
        UnsafeMutableBufferPointer(start: self.pointer.pointee.elems, count: Int(self.pointer.pointee.cnt))
    }

    /// Each element's partition, offset and error.
    var entries: [(partition: KafkaTopicPartition, offset: Int64, error: Int32)] {
        self.elements.map { (KafkaTopicPartition(topic: String(cString: $0.topic), partition: $0.partition), $0.offset, $0.err) }
    }

    /// The first per-partition error, if any.
    var firstError: (partition: KafkaTopicPartition, code: Int32)? {
        self.entries.first { $0.error != CRDK_ERR_NO_ERROR }.map { ($0.partition, $0.error) }
    }

    func destroy() {
        crdk_topic_partition_list_destroy(self.pointer)
    }
}
