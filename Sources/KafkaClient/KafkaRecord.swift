/// A record header: a name and bytes.
public struct KafkaHeader: Sendable, Hashable {
    /// The header's name.
    public var name: String
    /// The header's value (a null value reads as empty).
    public var value: [UInt8]

    /// A header.
    public init(name: String, value: [UInt8]) {
        self.name = name
        self.value = value
    }
}

/// A record fetched from a partition.
public struct KafkaRecord: Sendable, Hashable {
    /// The topic it was read from.
    public var topic: String
    /// The partition it was read from.
    public var partition: Int32
    /// Its offset in the partition.
    public var offset: Int64
    /// Its key; `nil` for a null key.
    public var key: [UInt8]?
    /// Its value; `nil` for a null value (a tombstone).
    public var value: [UInt8]?
    /// Its timestamp, in milliseconds since 1970; -1 when it has none.
    public var timestampMilliseconds: Int64
    /// Its headers, in order.
    public var headers: [KafkaHeader]

    /// A record, as a consumer returns it.
    public init(
        topic: String, partition: Int32, offset: Int64, key: [UInt8]?, value: [UInt8]?, timestampMilliseconds: Int64,
        headers: [KafkaHeader]
    ) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.timestampMilliseconds = timestampMilliseconds
        self.headers = headers
    }
}

/// A record to produce.
public struct KafkaOutgoingRecord: Sendable {
    /// The topic to write to.
    public var topic: String
    /// The partition to write to; `nil` lets librdkafka's partitioner choose by key (consistent
    /// hashing of the key, so one key always lands in the same partition; random for a null key).
    public var partition: Int32?
    /// The key; `nil` for a null key.
    public var key: [UInt8]?
    /// The value; `nil` for a null value (a tombstone).
    public var value: [UInt8]?
    /// The headers, in order.
    public var headers: [KafkaHeader]
    /// The timestamp in milliseconds since 1970; `nil` for the time it is produced.
    public var timestampMilliseconds: Int64?

    /// A record to produce.
    public init(
        topic: String, partition: Int32? = nil, key: [UInt8]? = nil, value: [UInt8]?, headers: [KafkaHeader] = [],
        timestampMilliseconds: Int64? = nil
    ) {
        self.topic = topic
        self.partition = partition
        self.key = key
        self.value = value
        self.headers = headers
        self.timestampMilliseconds = timestampMilliseconds
    }
}

/// Where the broker stored a produced record.
public struct KafkaDelivery: Sendable, Hashable {
    /// The record's topic.
    public var topic: String
    /// The partition it was stored in.
    public var partition: Int32
    /// Its offset there (-1001 when librdkafka could not tell, as after some idempotent retries).
    public var offset: Int64

    /// A delivery.
    public init(topic: String, partition: Int32, offset: Int64) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
    }
}

/// One partition of a topic.
public struct KafkaTopicPartition: Sendable, Hashable, CustomStringConvertible {
    /// The topic's name.
    public var topic: String
    /// The partition's number, from 0.
    public var partition: Int32

    /// A topic's partition.
    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    /// `topic[partition]`.
    public var description: String { "\(self.topic)[\(self.partition)]" }
}
