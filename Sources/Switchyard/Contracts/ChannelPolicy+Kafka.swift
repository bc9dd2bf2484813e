extension ChannelPolicy {
    /// Where a channel lives on the Kafka engine: its topic, partitioning, retention and compaction
    /// (the contract's `policy.kafka`).
    ///
    /// ```json
    /// "kafka": {"topic": "opa.quotes.realtime", "partitions": 6, "partition_key": "ticker", "retention": "7d"}
    /// ```
    public struct Kafka: Sendable, Hashable {
        /// The topic's name; `nil` takes `switchyard.` and the channel's name with `:` written as `..`.
        public var topic: String?
        /// How many partitions the topic is created with. Default 1.
        public var partitions: Int
        /// A top-level payload field whose value keys each record (so one key's events share a
        /// partition and compaction keeps the newest per key); `nil` keys records by event id.
        public var partitionKey: String?
        /// How long the broker keeps records (`retention.ms`); `nil` takes the channel's retention
        /// plus seven days, so that the broker never deletes what a group may still be delivered.
        public var retentionSeconds: Int?
        /// Whether the topic is compacted (`cleanup.policy=compact`): the broker keeps the newest
        /// record per key, and a replay from the broker then skips the sequence numbers it removed.
        public var compaction: Bool

        /// Creates a mapping.
        public init(topic: String? = nil, partitions: Int = 1, partitionKey: String? = nil, retentionSeconds: Int? = nil, compaction: Bool = false) {
            self.topic = topic
            self.partitions = partitions
            self.partitionKey = partitionKey
            self.retentionSeconds = retentionSeconds
            self.compaction = compaction
        }

        /// The keys `policy.kafka` may hold.
        public static let keys: Set<String> = ["topic", "partitions", "partition_key", "retention", "compaction"]

        /// Whether `name` is a legal Kafka topic name: 1 to 249 of `A-Z a-z 0-9 . _ -`, not `.` or `..`.
        public static func isValidTopic(_ name: String) -> Bool {
            guard !name.isEmpty, name.utf8.count <= 249, name != ".", name != ".." else { return false }
            return name.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                    UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                    true
                default: false
                }
            }
        }
    }
}
