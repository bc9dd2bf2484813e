import CRDKafka
import Foundation
import Synchronization

/// Reads records from Kafka: either as a member of a consumer group (``subscribe(topics:)``, the
/// group spreads the partitions over its members) or as a plain reader of chosen partitions
/// (``assign(_:)``), never both at once.
///
/// Offsets are committed only by ``commit(_:)``: `enable.auto.commit` and
/// `enable.auto.offset.store` are off. Every blocking librdkafka call runs on a thread of the
/// consumer's own, one after another, never on Swift's concurrency pool. Close it with
/// ``close()``, which leaves the group (its deinit closes it too, without waiting).
public final class KafkaConsumer: Sendable {
    /// The offset that means a partition's first record (librdkafka's `OFFSET_BEGINNING`).
    public static let beginning: Int64 = -2
    /// The offset that means after a partition's last record (librdkafka's `OFFSET_END`).
    public static let end: Int64 = -1

    /// The consumer group it belongs to; `nil` for a plain reader.
    public let groupID: String?
    let handle: Handle
    let thread: KafkaThread
    /// Set once ``close()`` starts; held while the handle is used outside the thread.
    let closing = Mutex(false)
    /// A consumer error that arrived after records ``poll(maxRecords:timeout:)`` returned, thrown
    /// by the next poll.
    private let pendingError = Mutex<KafkaError?>(nil)

    /// Makes a consumer.
    /// - Parameters:
    ///   - configuration: The brokers and settings.
    ///   - groupID: The consumer group to join on ``subscribe(topics:)``; `nil` for a plain reader
    ///     (librdkafka gets a unique group ID it never joins, as it assigns partitions only with one).
    ///   - startAtEarliest: Where a partition without a committed offset starts: at its first
    ///     record (`auto.offset.reset=earliest`), or after its last (`latest`).
    /// - Throws: ``KafkaError`` when librdkafka is missing or refuses a setting.
    public init(configuration: KafkaConfiguration, groupID: String?, startAtEarliest: Bool = true) throws(KafkaError) {
        var own = [
            ("enable.auto.commit", "false"), ("enable.auto.offset.store", "false"),
            ("auto.offset.reset", startAtEarliest ? "earliest" : "latest"),
        ]
        // librdkafka assigns partitions only to a consumer with a group ID; a plain reader gets one
        // of its own, which never joins a group (it does not subscribe) and never commits.
        own.append(("group.id", groupID ?? "switchyard-reader-\(UUID().uuidString.lowercased())"))
        self.groupID = groupID
        self.handle = try Handle(type: CRDK_CONSUMER, settings: configuration.settings(own), libraryPath: configuration.libraryPath)
        _ = crdk_poll_set_consumer(self.handle.pointer)
        self.thread = KafkaThread(name: "kafka-consumer")
    }

    deinit {
        let (handle, thread) = (self.handle, self.thread)
        if !self.closing.withLock({ $0 }) { thread.finish { Self.shutdown(handle) } }
    }

    private static func shutdown(_ handle: Handle) {
        _ = crdk_consumer_close(handle.pointer)
        handle.destroy()
    }

    /// Leaves the group (when in one) and destroys the librdkafka handle, after the calls already
    /// under way. Closing twice does nothing; every call after it throws ``KafkaError/closed``.
    public func close() async {
        let first = self.closing.withLock { closing in
            defer { closing = true }
            return !closing
        }
        guard first else { return }
        await self.thread.finishAndWait { [handle] in Self.shutdown(handle) }
    }

    /// Runs `body` with the handle on the caller's thread, for calls that return at once.
    private func withHandle<T>(_ body: (Handle) throws(KafkaError) -> T) throws(KafkaError) -> T {
        try self.closing.withLock { (closing) throws(KafkaError) -> T in
            guard !closing else { throw .closed("consumer") }
            return try body(self.handle)
        }
    }

    /// Joins the group and consumes the topics it assigns this member.
    /// - Parameter topics: Topic names, or regular expressions that start with `^` (librdkafka's
    ///   syntax), matched against the topics as they come and go.
    /// - Throws: ``KafkaError`` for a plain reader (no group) or a refused subscription.
    public func subscribe(topics: [String]) throws(KafkaError) {
        guard self.groupID != nil else {
            throw KafkaError(code: KafkaError.invalidConfiguration, message: "a consumer without a group ID cannot subscribe: assign partitions")
        }
        try self.withHandle { (handle) throws(KafkaError) in
            let list = PartitionList(topics: topics)
            defer { list.destroy() }
            let status = crdk_subscribe(handle.pointer, list.pointer)
            guard status == CRDK_ERR_NO_ERROR else { throw handle.error(status, "subscribing to \(topics)") }
        }
    }

    /// Reads exactly these partitions, each from the offset given (the next one to read, or
    /// ``beginning`` or ``end``), replacing any earlier assignment.
    /// - Throws: ``KafkaError`` when librdkafka refuses the assignment.
    public func assign(_ positions: [KafkaTopicPartition: Int64]) throws(KafkaError) {
        try self.withHandle { (handle) throws(KafkaError) in
            let list = PartitionList(positions)
            defer { list.destroy() }
            let status = crdk_assign(handle.pointer, list.pointer)
            guard status == CRDK_ERR_NO_ERROR else { throw handle.error(status, "assigning \(positions.keys.map(\.description).sorted())") }
        }
    }

    /// The partitions this consumer reads now (assigned by hand or by the group).
    public func assignment() throws(KafkaError) -> [KafkaTopicPartition] {
        try self.withHandle { (handle) throws(KafkaError) in
            var pointer: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
            let status = crdk_assignment(handle.pointer, &pointer)
            guard status == CRDK_ERR_NO_ERROR, let pointer else { throw handle.error(status, "reading the assignment") }
            let list = PartitionList(taking: pointer)
            defer { list.destroy() }
            return list.entries.map(\.partition)
        }
    }

    /// Up to `maxRecords` records, waiting at most `timeout` for the first; `[]` when none came.
    ///
    /// The reaching of a partition's end is not an error, and neither are lost broker connections,
    /// which librdkafka restores by itself (a timeout elsewhere names them).
    /// - Throws: ``KafkaError`` for any other consumer error, such as a subscribed topic that does
    ///   not exist; ``KafkaError/closed`` once closed.
    public func poll(maxRecords: Int, timeout: Duration) async throws(KafkaError) -> [KafkaRecord] {
        if let pending = self.pendingError.withLock({ error in defer { error = nil }; return error }) { throw pending }
        return try await self.thread.run("consumer") { [self] () throws(KafkaError) -> [KafkaRecord] in
            let handle = self.handle
            let deadline = ContinuousClock.now + timeout
            var records: [KafkaRecord] = []
            while records.count < maxRecords {
                let wait = records.isEmpty ? (deadline - ContinuousClock.now).kafkaMilliseconds : 0
                guard let message = crdk_consumer_poll(handle.pointer, wait) else {
                    if records.isEmpty && ContinuousClock.now < deadline { continue }
                    break
                }
                defer { crdk_message_destroy(message) }
                let err = message.pointee.err
                if err == CRDK_ERR_NO_ERROR {
                    records.append(KafkaRecord(message))
                } else if err == CRDK_ERR_PARTITION_EOF {
                    continue
                } else if [CRDK_ERR_TRANSPORT, CRDK_ERR_ALL_BROKERS_DOWN].contains(err) {
                    crdk_context_set_error(handle.context, err, message.pointee.errorText)
                } else {
                    let error = KafkaError(rdkafka: err, "consuming", detail: message.pointee.errorText)
                    guard records.isEmpty else {
                        self.pendingError.withLock { $0 = error }
                        break
                    }
                    throw error
                }
            }
            return records
        }
    }
}

extension rd_kafka_message_t {
    /// A consumer error's text, which librdkafka puts where the payload goes.
    var errorText: String {
        guard let payload else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: payload, count: self.len), as: UTF8.self)
    }
}

extension KafkaRecord {
    /// The record in a message librdkafka fetched.
    init(_ message: UnsafeMutablePointer<rd_kafka_message_t>) {
        let fields = message.pointee
        var headers: [KafkaHeader] = []
        var list: OpaquePointer?
        if crdk_message_headers(message, &list) == CRDK_ERR_NO_ERROR, let list {
            for index in 0..<crdk_header_cnt(list) {
                var name: UnsafePointer<CChar>?
                var value: UnsafeRawPointer?
                var size = 0
                guard crdk_header_get_all(list, index, &name, &value, &size) == CRDK_ERR_NO_ERROR, let name else { continue }
                headers.append(KafkaHeader(name: String(cString: name), value: value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []))
            }
        }
        var timestampType: Int32 = 0
        self.init(
            topic: String(cString: crdk_topic_name(fields.rkt)),
            partition: fields.partition,
            offset: fields.offset,
            key: fields.key.map { Array(UnsafeRawBufferPointer(start: $0, count: fields.key_len)) },
            value: fields.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: fields.len)) },
            timestampMilliseconds: crdk_message_timestamp(message, &timestampType),
            headers: headers)
    }
}
