import Foundation
import JSONSchema
import Logging
import Metrics
import PostgresNIO
import ServiceLifecycle
import Switchyard

/// Publishes committed outbox rows through a ``Switchyard/Router``, in transaction order per
/// channel, then moves them to the archive; rows that fail their contract go to the quarantine.
///
/// A relay is a `Service`. It holds one connection of its own, on which it takes the leader lock
/// (`pg_try_advisory_lock`), so of several relays on one database exactly one publishes and the
/// others stand by until its session ends. It wakes on `LISTEN switchyard_outbox` (a trigger
/// notifies on every insert) and polls every ``Configuration/pollInterval`` as well.
///
/// Only rows whose transaction id (`xid8`) is below the oldest transaction still running
/// (`pg_snapshot_xmin(pg_current_snapshot())`) are taken, in `(xid, id)` order: every
/// transaction that could still add a row before them has finished, so a transaction that
/// commits late is never skipped and never published out of order (docs/postgres.md).
///
/// Each event is published with its outbox row's event id, so a relay that dies between
/// publishing and moving the rows re-publishes them after restart and the router's dedup stores
/// them once.
public final class Relay: Service {
    /// How the relay runs.
    public struct Configuration: Sendable {
        /// Rows taken per batch. Default 500.
        public var batchSize: Int
        /// How often the outbox is read when no notification arrives. Default 100 ms.
        public var pollInterval: Duration
        /// How often a standby relay tries to become the leader. Default 1 s.
        public var standbyInterval: Duration
        /// The wait before trying again after PostgreSQL or the router failed. Default 500 ms.
        public var retryDelay: Duration
        /// The leader lock's key; relays with the same key on one database exclude each other.
        public var lockKey: Int64

        /// Creates a configuration; every parameter has the default documented on its property.
        public init(
            batchSize: Int = 500, pollInterval: Duration = .milliseconds(100), standbyInterval: Duration = .seconds(1),
            retryDelay: Duration = .milliseconds(500), lockKey: Int64 = 0x5377_5944_5245_4C59
        ) {
            self.batchSize = batchSize
            self.pollInterval = pollInterval
            self.standbyInterval = standbyInterval
            self.retryDelay = retryDelay
            self.lockKey = lockKey
        }
    }

    /// Where the relay connects.
    public let postgres: PostgresConnection.Configuration
    /// The router events are published through.
    public let router: Router
    /// How the relay runs.
    public let configuration: Configuration
    let payloadGuard: PayloadGuard
    let logger: Logger
    let doorbell = Doorbell()
    let receipts = ReceiptBoard()
    let holder = Relay.holderName()
    let published = Counter(label: "switchyard_relay_published_total")
    let quarantined = Counter(label: "switchyard_relay_quarantined_total")

    /// Creates a relay; connects to nothing until ``run()``.
    /// - Parameters:
    ///   - postgres: The database with the `switchyard` schema (``Migrations``).
    ///   - router: Publishes the events; its contracts decide what is quarantined. Run it (or its
    ///     engine) alongside the relay, and give it a dedup window longer than any relay outage.
    ///   - configuration: Batch size, polling and retry settings.
    ///   - logger: The caller's logger.
    public init(postgres: PostgresConnection.Configuration, router: Router, configuration: Configuration = Configuration(), logger: Logger) {
        self.postgres = postgres
        self.router = router
        self.configuration = configuration
        self.payloadGuard = PayloadGuard(registry: router.contracts, allowsUnknownChannels: router.configuration.allowsUnknownChannels)
        self.logger = logger
    }

    /// The receipt of an event this relay publishes and archives within `timeout`, or `nil`
    /// (another relay may be the leader: look in the archive then).
    public func receipt(for eventID: EventID, timeout: Duration) async -> PublishReceipt? {
        await receipts.wait(for: eventID, timeout: timeout)
    }

    /// Relays until cancelled or a graceful shutdown; reconnects after PostgreSQL failures.
    public func run() async throws {
        try await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await self.connectAndLead()
                } catch {
                    if Task.isCancelled { return }
                    self.logger.warning("relay connection failed; retrying", metadata: ["error": "\(String(reflecting: error))"])
                    try? await Task.sleep(for: self.configuration.retryDelay)
                }
            }
        }
    }

    private func connectAndLead() async throws {
        let connection = try await PostgresConnection.connect(
            on: PostgresClient.defaultEventLoopGroup.any(), configuration: postgres,
            id: Int.random(in: 1...Int.max), logger: logger
        ).get()
        do {
            try await lead(on: connection)
        } catch {
            try? await connection.close()
            throw error
        }
        try? await connection.close()
    }

    /// Waits for the leader lock, then listens and relays until cancelled or the connection fails.
    private func lead(on connection: PostgresConnection) async throws {
        while true {
            let rows = try await connection.query("SELECT pg_try_advisory_lock(\(configuration.lockKey))", logger: logger)
            var leader = false
            for try await value in rows.decode(Bool.self) { leader = value }
            if leader { break }
            try await Task.sleep(for: configuration.standbyInterval)
        }
        logger.info("relay is the leader")
        try await connection.listen(on: "switchyard_outbox") { notifications in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for try await _ in notifications { self.doorbell.ring() }
                }
                group.addTask {
                    try await self.relayLoop(on: connection)
                }
                try await group.next()
                group.cancelAll()
            }
        }
    }

    private func relayLoop(on connection: PostgresConnection) async throws {
        while !Task.isCancelled {
            let outcome = try await relayBatch(on: connection)
            switch outcome {
            case .full: continue
            case .drained: await doorbell.wait(timeout: configuration.pollInterval)
            case .routerFailed: try await Task.sleep(for: configuration.retryDelay)
            }
        }
    }

    enum BatchOutcome { case full, drained, routerFailed }

    /// `HOST:PID`, from `gethostname` (`ProcessInfo.hostName` resolves names, which can block for seconds).
    static func holderName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        let host = gethostname(&buffer, buffer.count - 1) == 0 ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "unknown"
        return "\(host):\(ProcessInfo.processInfo.processIdentifier)"
    }

    struct OutboxRow {
        var id: Int64
        var eventID: String
        var channel: String
        var payload: String
        var metadata: String
        var xid: String
        var createdAt: String
    }

    /// Takes one batch of rows whose transactions have all finished (ordered by the `xid8`
    /// column itself: the text copies in the select list must not shadow it), publishes the valid ones,
    /// and in one transaction archives them, quarantines the invalid ones and deletes them all
    /// from the outbox.
    func relayBatch(on connection: PostgresConnection) async throws -> BatchOutcome {
        let rows = try await connection.query(
            """
            SELECT o.id, o.event_id::text, o.channel, o.payload::text, o.metadata::text, o.xid::text AS xid_text,
                o.created_at::text AS created_text
            FROM switchyard.outbox AS o
            WHERE o.xid < pg_snapshot_xmin(pg_current_snapshot())
            ORDER BY o.xid, o.id
            LIMIT \(configuration.batchSize)
            """, logger: logger)
        var batch: [OutboxRow] = []
        for try await (id, eventID, channel, payload, metadata, xid, createdAt)
            in rows.decode((Int64, String, String, String, String, String, String).self)
        {
            batch.append(OutboxRow(id: id, eventID: eventID, channel: channel, payload: payload, metadata: metadata, xid: xid, createdAt: createdAt))
        }
        if batch.isEmpty { return .drained }

        var valid: [(row: OutboxRow, request: PublishRequest, schema: String)] = []
        var refused: [(row: OutboxRow, error: SwitchyardError)] = []
        for row in batch {
            do throws(SwitchyardError) {
                let (request, schema) = try check(row)
                valid.append((row, request, schema))
            } catch {
                refused.append((row, error))
            }
        }
        var receipts: [PublishReceipt] = []
        if !valid.isEmpty {
            do {
                receipts = try await router.publish(valid.map(\.request))
            } catch {
                logger.warning("relay could not publish; retrying", metadata: ["error": "\(error)"])
                return .routerFailed
            }
        }
        let source = router.configuration.source
        let archived = zip(valid, receipts).map { item, receipt in
            let envelope = Envelope(
                eventID: receipt.eventID, channel: receipt.channel, sequenceNumber: receipt.sequenceNumber,
                timestamp: receipt.timestamp, source: source, schema: item.schema, data: item.request.payload,
                metadata: item.request.metadata)
            return (row: item.row, receipt: receipt, envelope: envelope)
        }
        try await finish(archived: archived, refused: refused, on: connection)
        self.receipts.post(receipts)
        published.increment(by: Int64(archived.count))
        if !refused.isEmpty {
            quarantined.increment(by: Int64(refused.count))
            logger.warning("relay quarantined outbox rows", metadata: ["count": "\(refused.count)"])
        }
        return batch.count == configuration.batchSize ? .full : .drained
    }

    /// Reads a row as a publish request, checked against its contract.
    private func check(_ row: OutboxRow) throws(SwitchyardError) -> (PublishRequest, String) {
        let channel = try ChannelName(row.channel)
        guard let eventID = EventID(row.eventID) else {
            throw SwitchyardError(.validationError, "the outbox row's event_id is not a UUID")
        }
        let payload: JSONValue
        let metadata: JSONValue
        do {
            payload = try JSONValue(parsing: row.payload)
            metadata = try JSONValue(parsing: row.metadata)
        } catch {
            throw SwitchyardError(.malformedJSON, "the outbox row's payload or metadata is not JSON")
        }
        guard case .object(let metadataObject) = metadata else {
            throw SwitchyardError.validation(missing: [], invalid: [("metadata", "must be a JSON object")])
        }
        let checked = try payloadGuard.check(channel: channel, payload: payload)
        return (PublishRequest(channel: channel, payload: checked.payload, metadata: metadataObject, eventID: eventID), checked.schemaID)
    }

    private func finish(
        archived: [(row: OutboxRow, receipt: PublishReceipt, envelope: Envelope)],
        refused: [(row: OutboxRow, error: SwitchyardError)],
        on connection: PostgresConnection
    ) async throws {
        try await connection.withTransaction(logger: logger) { connection in
            if !archived.isEmpty {
                let eventIDs = archived.map(\.envelope.eventID.description)
                let channels = archived.map(\.envelope.channel.rawValue)
                let sequences = archived.map(\.envelope.sequenceNumber)
                let streamIDs = archived.map(\.receipt.streamID.rawValue)
                let times = archived.map(\.envelope.timestamp.description)
                let sources = archived.map(\.envelope.source)
                let schemas = archived.map(\.envelope.schema)
                let payloads = archived.map { $0.envelope.data.serialized() }
                let metadata = archived.map { JSONValue.object($0.envelope.metadata).serialized() }
                let envelopes = archived.map { $0.envelope.encoded() }
                let outboxIDs = archived.map(\.row.id)
                let xids = archived.map(\.row.xid)
                let created = archived.map(\.row.createdAt)
                try await connection.query(
                    """
                    INSERT INTO switchyard.archive (event_id, channel, sequence_number, stream_id, "timestamp", source,
                        schema, payload, metadata, envelope, outbox_id, outbox_xid, created_at)
                    SELECT e::uuid, c, s, sid, t::timestamptz, src, sch, p::jsonb, m::jsonb, env, oid, x::xid8, ca::timestamptz
                    FROM unnest(\(eventIDs)::text[], \(channels)::text[], \(sequences)::int8[], \(streamIDs)::text[],
                        \(times)::text[], \(sources)::text[], \(schemas)::text[], \(payloads)::text[], \(metadata)::text[],
                        \(envelopes)::text[], \(outboxIDs)::int8[], \(xids)::text[], \(created)::text[])
                        AS u(e, c, s, sid, t, src, sch, p, m, env, oid, x, ca)
                    ON CONFLICT (event_id) DO NOTHING
                    """, logger: logger)
            }
            if !refused.isEmpty {
                let ids = refused.map(\.row.id)
                let errors = refused.map { $0.error.body.serialized() }
                try await connection.query(
                    """
                    INSERT INTO switchyard.quarantine (outbox_id, event_id, channel, payload, metadata, created_at, outbox_xid, error)
                    SELECT o.id, o.event_id, o.channel, o.payload, o.metadata, o.created_at, o.xid, u.err::jsonb
                    FROM unnest(\(ids)::int8[], \(errors)::text[]) AS u(oid, err)
                    JOIN switchyard.outbox o ON o.id = u.oid
                    ON CONFLICT (outbox_id) DO NOTHING
                    """, logger: logger)
            }
            let all = archived.map(\.row.id) + refused.map(\.row.id)
            try await connection.query("DELETE FROM switchyard.outbox WHERE id = ANY(\(all)::int8[])", logger: logger)
            try await connection.query(
                """
                INSERT INTO switchyard.relay_state (name, holder, published, quarantined)
                VALUES (\(String(configuration.lockKey)), \(holder), \(Int64(archived.count)), \(Int64(refused.count)))
                ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, updated_at = now(),
                    published = switchyard.relay_state.published + excluded.published,
                    quarantined = switchyard.relay_state.quarantined + excluded.quarantined
                """, logger: logger)
        }
    }
}
