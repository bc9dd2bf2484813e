import JSONSchema
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// The audit trail: records every publish, refusal, dead letter, requeue and drop, and writes them
/// to a sink in batches, off the publish path.
///
/// ``record(_:)`` only appends to a bounded in-memory buffer (one lock, no I/O, no suspension);
/// ``run()`` writes the buffer to the sink every ``Configuration/flushInterval`` (100 ms by
/// default), in order, one batch per write. A batch the sink refuses stays buffered and is tried
/// again; while the buffer is full (the sink has been away for a long time), new records are
/// dropped, counted in `switchyard_audit_dropped_total` and logged, rather than stopping publishes.
/// On shutdown ``run()`` writes what is left. ``records(matching:)`` writes the buffer first, so a
/// query sees everything recorded before it.
///
/// Run it as a service of its own, started before the routers that record into it (a
/// `ServiceGroup` stops services in reverse order, so it then stops after them and keeps their last records).
public final class AuditTrail: Service, Sendable {
    /// How often the buffer is written and how much it holds.
    public struct Configuration: Sendable {
        /// Time between writes. Default 100 ms.
        public var flushInterval: Duration
        /// The most records one write carries. Default 1,000.
        public var batchSize: Int
        /// The most records buffered; more are dropped and counted. Default 100,000.
        public var capacity: Int

        /// Creates a configuration.
        public init(flushInterval: Duration = .milliseconds(100), batchSize: Int = 1000, capacity: Int = 100_000) {
            self.flushInterval = flushInterval
            self.batchSize = max(1, batchSize)
            self.capacity = max(1, capacity)
        }
    }

    private struct Buffer {
        var records: [AuditRecord] = []
        var dropped = 0
        var droppedSinceLog = 0
    }

    /// Where the records go.
    public let sink: any AuditSink
    /// How it buffers.
    public let configuration: Configuration
    private let buffer = Mutex(Buffer())
    private let writer = Writer()
    private let logger: Logger
    private let droppedCounter: Counter
    private let writeErrors: Counter

    /// Serializes writes, so two flushes never interleave their batches.
    private actor Writer {
        func run<T: Sendable>(_ body: @Sendable () async throws -> T) async rethrows -> T { try await body() }
    }

    /// A trail writing to `sink`.
    public init(sink: any AuditSink, configuration: Configuration = Configuration(), logger: Logger, metricsFactory: (any MetricsFactory)? = nil) {
        self.sink = sink
        self.configuration = configuration
        self.logger = logger
        let factory = metricsFactory ?? MetricsSystem.factory
        droppedCounter = Counter(label: SwitchyardMetrics.Name.auditDropped, factory: factory)
        writeErrors = Counter(label: SwitchyardMetrics.Name.auditWriteErrors, factory: factory)
    }

    /// A trail writing an append-only JSON-lines file (``AuditFile``).
    public convenience init(file path: String, configuration: Configuration = Configuration(), logger: Logger) {
        self.init(sink: AuditFile(path: path), configuration: configuration, logger: logger)
    }

    /// Buffers a record; returns at once. The record is written by the next flush.
    public func record(_ record: AuditRecord) {
        self.record([record])
    }

    /// Buffers records, in order; returns at once.
    public func record(_ records: [AuditRecord]) {
        guard !records.isEmpty else { return }
        let dropped = buffer.withLock { buffer -> Int in
            let room = max(0, configuration.capacity - buffer.records.count)
            buffer.records += records.prefix(room)
            let dropped = records.count - min(room, records.count)
            buffer.dropped += dropped
            buffer.droppedSinceLog += dropped
            return dropped
        }
        if dropped > 0 { droppedCounter.increment(by: Int64(dropped)) }
    }

    /// Records buffered and not yet written.
    public var pendingCount: Int { buffer.withLock { $0.records.count } }

    /// Records dropped because the buffer was full, since the trail was made.
    public var droppedCount: Int { buffer.withLock { $0.dropped } }

    /// Writes every buffered record, in batches.
    /// - Throws: the sink's error; the records not written stay buffered, in order.
    public func flush() async throws {
        try await writer.run {
            while true {
                let batch = self.buffer.withLock { Array($0.records.prefix(self.configuration.batchSize)) }
                guard !batch.isEmpty else { return }
                try await self.sink.append(batch)
                self.buffer.withLock { $0.records.removeFirst(batch.count) }
            }
        }
    }

    /// The records matching `query`, after writing the buffer.
    public func records(matching query: AuditQuery) async throws -> [AuditRecord] {
        try await flush()
        return try await sink.records(matching: query)
    }

    /// Runs the sink and writes the buffer every ``Configuration/flushInterval`` until cancelled or
    /// a graceful shutdown, then writes what is left.
    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.sink.run() }
            await cancelWhenGracefulShutdown { await self.flushLoop() }
            await self.flushLogging()
            group.cancelAll()
            while let result = await group.nextResult() {
                if case .failure(let error) = result, !(error is CancellationError) { throw error }
            }
        }
    }

    private func flushLoop() async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: configuration.flushInterval) } catch { return }
            await flushLogging()
        }
    }

    private func flushLogging() async {
        let dropped = buffer.withLock { buffer in
            defer { buffer.droppedSinceLog = 0 }
            return buffer.droppedSinceLog
        }
        if dropped > 0 {
            logger.error("the audit buffer was full: records were dropped", metadata: ["dropped": "\(dropped)"])
        }
        do { try await flush() } catch {
            writeErrors.increment()
            logger.warning(
                "writing the audit trail failed; the records stay buffered and are retried",
                metadata: ["pending": "\(pendingCount)", "error": "\(Redaction.text(String(describing: error)))"])
        }
    }
}

extension SwitchyardMetrics.Name {
    /// Counter: audit records dropped because the trail's buffer was full (its sink was away too long).
    public static let auditDropped = "switchyard_audit_dropped_total"
    /// Counter: writes of the audit trail to its sink that failed (the records stay buffered).
    public static let auditWriteErrors = "switchyard_audit_write_errors_total"
}
