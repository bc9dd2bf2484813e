import CRDKafka
import Synchronization

/// A topic to create.
public struct KafkaTopicSpec: Sendable {
    /// The topic's name.
    public var name: String
    /// How many partitions it has.
    public var partitions: Int32
    /// How many copies of each partition the brokers keep; -1 for the brokers' default.
    public var replicationFactor: Int16
    /// Topic settings, such as `retention.ms` or `cleanup.policy`.
    public var configs: [String: String]

    /// A topic to create.
    public init(name: String, partitions: Int32 = 1, replicationFactor: Int16 = -1, configs: [String: String] = [:]) {
        self.name = name
        self.partitions = partitions
        self.replicationFactor = replicationFactor
        self.configs = configs
    }
}

/// A topic as the cluster's metadata describes it.
public struct KafkaTopicMetadata: Sendable, Hashable {
    /// The topic's name.
    public var name: String
    /// How many partitions it has.
    public var partitions: Int32

    /// A topic's metadata.
    public init(name: String, partitions: Int32) {
        self.name = name
        self.partitions = partitions
    }
}

/// Creates, lists, describes and deletes topics.
///
/// Its calls run one after another on a thread of its own. Close it with ``close()`` (its deinit
/// does too).
public final class KafkaAdmin: Sendable {
    private let handle: Handle
    private let thread: KafkaThread
    private let closed = Mutex(false)

    /// Makes an admin client.
    /// - Throws: ``KafkaError`` when librdkafka is missing or refuses a setting.
    public init(configuration: KafkaConfiguration) throws(KafkaError) {
        self.handle = try Handle(type: CRDK_PRODUCER, settings: configuration.settings([]), libraryPath: configuration.libraryPath)
        self.thread = KafkaThread(name: "kafka-admin")
    }

    deinit {
        self.close()
    }

    /// Destroys the librdkafka handle after the calls under way. Closing twice does nothing.
    public func close() {
        let first = self.closed.withLock { closed in
            defer { closed = true }
            return !closed
        }
        if first { self.thread.finish { [handle] in handle.destroy() } }
    }

    /// Creates the topics; one that exists already is not an error (and is left as it is).
    /// - Throws: ``KafkaError`` for the first topic the brokers refuse, or when they do not
    ///   answer within `timeout`.
    public func createTopics(_ specs: [KafkaTopicSpec], timeout: Duration) async throws(KafkaError) {
        guard !specs.isEmpty else { return }
        try await self.thread.run("admin client") { [handle] () throws(KafkaError) in
            var topics: [OpaquePointer?] = []
            defer { topics.forEach { crdk_NewTopic_destroy($0) } }
            for spec in specs {
                let (topic, reason) = withErrorBuffer { crdk_NewTopic_new(spec.name, spec.partitions, Int32(spec.replicationFactor), $0, $1) }
                guard let topic else {
                    throw KafkaError(code: KafkaError.invalidConfiguration, message: "topic \(spec.name): \(reason)")
                }
                topics.append(topic)
                for (name, value) in spec.configs.sorted(by: { $0.key < $1.key }) {
                    let status = crdk_NewTopic_set_config(topic, name, value)
                    guard status == CRDK_ERR_NO_ERROR else { throw KafkaError(rdkafka: status, "setting \(name) of topic \(spec.name)") }
                }
            }
            try Self.request(handle, "creating topics \(specs.map(\.name))", timeout: timeout) { options, queue in
                topics.withUnsafeMutableBufferPointer { crdk_CreateTopics(handle.pointer, $0.baseAddress, $0.count, options, queue) }
            } results: { (event) throws(KafkaError) in
                var count = 0
                let results = crdk_CreateTopics_result_topics(crdk_event_CreateTopics_result(event), &count)
                try Self.check(results, count, "creating topic", ignoring: CRDK_ERR_TOPIC_ALREADY_EXISTS)
            }
        }
    }

    /// Deletes the topics; one that does not exist is not an error.
    /// - Throws: ``KafkaError`` for the first topic the brokers refuse to delete, or when they do
    ///   not answer within `timeout`.
    public func deleteTopics(_ names: [String], timeout: Duration) async throws(KafkaError) {
        guard !names.isEmpty else { return }
        try await self.thread.run("admin client") { [handle] () throws(KafkaError) in
            var topics = names.map { crdk_DeleteTopic_new($0) }
            defer { topics.forEach { crdk_DeleteTopic_destroy($0) } }
            try Self.request(handle, "deleting topics \(names)", timeout: timeout) { options, queue in
                topics.withUnsafeMutableBufferPointer { crdk_DeleteTopics(handle.pointer, $0.baseAddress, $0.count, options, queue) }
            } results: { (event) throws(KafkaError) in
                var count = 0
                let results = crdk_DeleteTopics_result_topics(crdk_event_DeleteTopics_result(event), &count)
                try Self.check(results, count, "deleting topic", ignoring: CRDK_ERR_UNKNOWN_TOPIC_OR_PART)
            }
        }
    }

    /// The cluster's topics and their partition counts, from its metadata.
    /// - Throws: ``KafkaError`` when no broker answers within `timeout`.
    public func topics(timeout: Duration) async throws(KafkaError) -> [KafkaTopicMetadata] {
        try await self.thread.run("admin client") { [handle] () throws(KafkaError) -> [KafkaTopicMetadata] in
            var metadata: UnsafePointer<rd_kafka_metadata_t>?
            let status = crdk_metadata(handle.pointer, 1, nil, &metadata, timeout.kafkaMilliseconds)
            _ = crdk_poll(handle.pointer, 0)  // serves the error callback, which names a connection failure
            guard status == CRDK_ERR_NO_ERROR, let metadata else { throw handle.error(status, "reading the cluster's metadata") }
            defer { crdk_metadata_destroy(metadata) }
            return UnsafeBufferPointer(start: metadata.pointee.topics, count: Int(metadata.pointee.topic_cnt))
                .filter { $0.err == CRDK_ERR_NO_ERROR }
                .map { KafkaTopicMetadata(name: String(cString: $0.topic), partitions: $0.partition_cnt) }
        }
    }

    /// A topic's settings as the broker describes them, name to value (settings without a value
    /// are left out).
    /// - Throws: ``KafkaError`` when the topic does not exist, or when the broker does not answer
    ///   within `timeout`.
    public func configs(ofTopic name: String, timeout: Duration) async throws(KafkaError) -> [String: String] {
        try await self.thread.run("admin client") { [handle] () throws(KafkaError) -> [String: String] in
            var resources = [crdk_ConfigResource_new(CRDK_RESOURCE_TOPIC, name)]
            defer { resources.forEach { crdk_ConfigResource_destroy($0) } }
            var configs: [String: String] = [:]
            try Self.request(handle, "describing topic \(name)", timeout: timeout) { options, queue in
                resources.withUnsafeMutableBufferPointer { crdk_DescribeConfigs(handle.pointer, $0.baseAddress, $0.count, options, queue) }
            } results: { (event) throws(KafkaError) in
                var count = 0
                guard let described = crdk_DescribeConfigs_result_resources(crdk_event_DescribeConfigs_result(event), &count) else { return }
                for resource in UnsafeBufferPointer(start: described, count: count) {
                    let status = crdk_ConfigResource_error(resource)
                    guard status == CRDK_ERR_NO_ERROR else {
                        throw KafkaError(rdkafka: status, "describing topic \(name)", detail: crdk_ConfigResource_error_string(resource).map { String(cString: $0) })
                    }
                    var entryCount = 0
                    guard let entries = crdk_ConfigResource_configs(resource, &entryCount) else { continue }
                    for entry in UnsafeBufferPointer(start: entries, count: entryCount) {
                        guard let value = crdk_ConfigEntry_value(entry) else { continue }
                        configs[String(cString: crdk_ConfigEntry_name(entry))] = String(cString: value)
                    }
                }
            }
            return configs
        }
    }

    /// Runs one admin request: `start` sends it with the options and a queue for its result, and
    /// `results` reads the result event once it arrives.
    private static func request(
        _ handle: Handle, _ action: String, timeout: Duration,
        start: (OpaquePointer?, OpaquePointer?) -> Void,
        results: (OpaquePointer) throws(KafkaError) -> Void
    ) throws(KafkaError) {
        let options = crdk_AdminOptions_new(handle.pointer, CRDK_ADMIN_OP_ANY)
        defer { crdk_AdminOptions_destroy(options) }
        _ = withErrorBuffer { crdk_AdminOptions_set_request_timeout(options, timeout.kafkaMilliseconds, $0, $1) }
        let queue = crdk_queue_new(handle.pointer)
        defer { crdk_queue_destroy(queue) }
        start(options, queue)
        // librdkafka answers by the request timeout; the margin only covers its own bookkeeping.
        let event = crdk_queue_poll(queue, (timeout + .seconds(5)).kafkaMilliseconds)
        _ = crdk_poll(handle.pointer, 0)  // serves the error callback, which names a connection failure
        guard let event else { throw handle.error(CRDK_ERR_TIMED_OUT, action) }
        defer { crdk_event_destroy(event) }
        let status = crdk_event_error(event)
        guard status == CRDK_ERR_NO_ERROR else {
            let detail = crdk_event_error_string(event).map { String(cString: $0) }
            let error = handle.error(status, action)
            throw KafkaError(code: error.code, message: detail.map { "\(error.message); \($0)" } ?? error.message)
        }
        try results(event)
    }

    /// Throws the first error among per-topic results, except `ignored`.
    private static func check(_ results: UnsafeMutablePointer<OpaquePointer?>?, _ count: Int, _ action: String, ignoring ignored: Int32) throws(KafkaError) {
        guard let results else { return }
        for result in UnsafeBufferPointer(start: results, count: count) {
            let status = crdk_topic_result_error(result)
            guard status != CRDK_ERR_NO_ERROR, status != ignored else { continue }
            let name = String(cString: crdk_topic_result_name(result))
            throw KafkaError(rdkafka: status, "\(action) \(name)", detail: crdk_topic_result_error_string(result).map { String(cString: $0) })
        }
    }
}
