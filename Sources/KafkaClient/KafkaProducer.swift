import CRDKafka
import Foundation
import Synchronization

/// Writes records to Kafka and reports where each one was stored.
///
/// Idempotent by default (`enable.idempotence=true`, `acks=all`): the brokers store each record
/// once and in order per partition, even when librdkafka retries. A thread of the producer's own
/// serves librdkafka's delivery reports. Close it with ``close()`` (its deinit does too).
public final class KafkaProducer: Sendable {
    private let handle: Handle
    /// Whether the producer is closed; held while records are enqueued, so that none reaches a
    /// handle being destroyed.
    private let closed = Mutex(false)
    private let poller: DeliveryPoller

    /// Makes a producer.
    /// - Parameters:
    ///   - configuration: The brokers and settings.
    ///   - idempotent: Whether the producer is idempotent (with `acks=all`); `false` leaves
    ///     librdkafka's defaults.
    /// - Throws: ``KafkaError`` when librdkafka is missing or refuses a setting.
    public init(configuration: KafkaConfiguration, idempotent: Bool = true) throws(KafkaError) {
        let own = idempotent ? [("enable.idempotence", "true"), ("acks", "all")] : [("enable.idempotence", "false")]
        self.handle = try Handle(type: CRDK_PRODUCER, settings: configuration.settings(own), libraryPath: configuration.libraryPath)
        self.poller = DeliveryPoller(handle: self.handle)
    }

    deinit {
        self.close()
    }

    /// Produces `records` in order and returns once every one is acknowledged: one delivery per
    /// record, in the same order.
    ///
    /// Every record is enqueued at once, then the reports are awaited together, so a batch costs
    /// no round trip per record.
    /// - Throws: ``KafkaError`` of the first record that failed (not stored within
    ///   `message.timeout.ms`, refused by the broker, or refused by librdkafka); the records before
    ///   it are stored. ``KafkaError/closed`` when the producer is closed, before or during the send.
    public func send(_ records: [KafkaOutgoingRecord]) async throws(KafkaError) -> [KafkaDelivery] {
        guard !records.isEmpty else { return [] }
        let waiter = BatchWaiter()
        let context = Unmanaged.passRetained(waiter).toOpaque()
        guard let batch = crdk_batch_new(records.count, { Unmanaged<BatchWaiter>.fromOpaque($0!).takeRetainedValue().complete() }, context)
        else {
            Unmanaged<BatchWaiter>.fromOpaque(context).release()
            throw KafkaError(code: KafkaError.invalidConfiguration, message: "out of memory for a batch of \(records.count) records")
        }
        defer { crdk_batch_free(batch) }
        var enqueued = 0
        var refusal: KafkaError?
        while enqueued < records.count, refusal == nil {
            let status = self.closed.withLock { closed -> Int32 in
                guard !closed else { return KafkaError.closed }
                while enqueued < records.count {
                    let status = Self.enqueue(records[enqueued], index: enqueued, batch: batch, handle: self.handle)
                    guard status == CRDK_ERR_NO_ERROR else { return status }
                    enqueued += 1
                }
                return CRDK_ERR_NO_ERROR
            }
            switch status {
            case CRDK_ERR_NO_ERROR: break
            case CRDK_ERR_QUEUE_FULL: try? await Task.sleep(for: .milliseconds(5))  // the reports make room
            case KafkaError.closed: refusal = .closed("producer")
            default: refusal = self.handle.error(status, "enqueueing record \(enqueued) for \(records[enqueued].topic)")
            }
        }
        crdk_batch_seal(batch, enqueued)
        await waiter.wait()
        let reports = UnsafeBufferPointer(start: crdk_batch_deliveries(batch), count: enqueued)
        var deliveries: [KafkaDelivery] = []
        deliveries.reserveCapacity(enqueued)
        for (index, report) in reports.enumerated() {
            guard report.err == CRDK_ERR_NO_ERROR else {
                throw self.handle.error(report.err, "record \(index) for \(records[index].topic) was not stored")
            }
            deliveries.append(KafkaDelivery(topic: records[index].topic, partition: report.partition, offset: report.offset))
        }
        if let refusal { throw refusal }
        return deliveries
    }

    private static func enqueue(_ record: KafkaOutgoingRecord, index: Int, batch: OpaquePointer, handle: Handle) -> Int32 {
        let names = record.headers.map { strdup($0.name) }
        defer { names.forEach { free($0) } }
        let values = record.headers.map { header -> UnsafeMutableRawPointer? in
            let copy = malloc(max(header.value.count, 1))
            header.value.withUnsafeBytes { if let base = $0.baseAddress { copy?.copyMemory(from: base, byteCount: $0.count) } }
            return copy
        }
        defer { values.forEach { free($0) } }
        let sizes = record.headers.map { $0.value.count }
        return names.map { UnsafePointer($0) }.withUnsafeBufferPointer { names in
            values.map { UnsafeRawPointer($0) }.withUnsafeBufferPointer { values in
                sizes.withUnsafeBufferPointer { sizes in
                    withOptionalBytes(record.key) { key in
                        withOptionalBytes(record.value) { value in
                            crdk_produce(
                                handle.pointer, batch, index, record.topic, record.partition ?? CRDK_PARTITION_UA,
                                key == nil ? 0 : 1, key?.baseAddress, key?.count ?? 0,
                                value == nil ? 0 : 1, value?.baseAddress, value?.count ?? 0,
                                record.timestampMilliseconds ?? 0,
                                names.baseAddress, values.baseAddress, sizes.baseAddress, record.headers.count)
                        }
                    }
                }
            }
        }
    }

    /// Waits until every record sent so far is acknowledged or has failed.
    /// - Throws: ``KafkaError/timedOut`` when some are still waiting after `timeout`;
    ///   ``KafkaError/closed`` when the producer is closed.
    public func flush(timeout: Duration) async throws(KafkaError) {
        let deadline = ContinuousClock.now + timeout
        while true {
            let waiting = self.closed.withLock { closed in closed ? nil : crdk_outq_len(self.handle.pointer) }
            guard let waiting else { throw .closed("producer") }
            if waiting == 0 { return }
            guard ContinuousClock.now < deadline else {
                throw self.handle.error(CRDK_ERR_TIMED_OUT, "flushing the producer (\(waiting) records and reports still waiting)")
            }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Closes the producer: sends still waiting fail with a purge error (call ``flush(timeout:)``
    /// first to wait for them), then its thread destroys the librdkafka handle. Closing twice does
    /// nothing.
    public func close() {
        let wasOpen = self.closed.withLock { closed in
            defer { closed = true }
            return !closed
        }
        if wasOpen { self.poller.stop() }
    }
}

/// Calls `body` with the bytes of `array`, or `nil` when there is none.
private func withOptionalBytes<T>(_ array: [UInt8]?, _ body: (UnsafeRawBufferPointer?) -> T) -> T {
    guard let array else { return body(nil) }
    return array.withUnsafeBytes { body($0) }
}

/// Waits for a batch's delivery reports: the C side calls ``complete()`` once the last one is in.
private final class BatchWaiter: Sendable {
    private let state = Mutex<(done: Bool, continuation: CheckedContinuation<Void, Never>?)>((false, nil))

    func complete() {
        let continuation = self.state.withLock { state in
            state.done = true
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume()
    }

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = self.state.withLock { state in
                if !state.done { state.continuation = continuation }
                return state.done
            }
            if done { continuation.resume() }
        }
    }
}

/// The producer's thread: serves delivery reports (and error callbacks) until stopped, then fails
/// what is still queued, serves those reports too, and destroys the handle.
private final class DeliveryPoller: Sendable {
    private let stopping = Atomic(false)

    init(handle: Handle) {
        let thread = Thread { [self] in
            while !self.stopping.load(ordering: .acquiring) {
                _ = crdk_poll(handle.pointer, 100)
            }
            _ = crdk_purge(handle.pointer, CRDK_PURGE_QUEUE | CRDK_PURGE_INFLIGHT)
            _ = crdk_flush(handle.pointer, 5_000)
            handle.destroy()
        }
        thread.name = "kafka-producer"
        thread.start()
    }

    func stop() {
        self.stopping.store(true, ordering: .releasing)
    }
}
