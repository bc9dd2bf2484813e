import JSONSchema
import Logging
import PostgresNIO
import Switchyard
import Tracing

extension Relay {
    enum BatchOutcome { case full, drained, routerFailed }

    struct OutboxRow {
        var id: Int64
        var eventID: String
        var channel: String
        var payload: String
        var metadata: String
        /// The writer's `source`; `NULL` takes the relay's router's source.
        var source: String?
        var xid: String
        var createdAt: String
    }

    /// Reads one batch of rows whose transactions have all finished (ordered by the `xid8`
    /// column itself: the text copies in the select list must not shadow it).
    func readBatch(on connection: RelayConnection) async throws -> [OutboxRow] {
        let rows = try await connection.query(
            """
            SELECT o.id, o.event_id::text, o.channel, o.payload::text, o.metadata::text, o.source, o.xid::text AS xid_text,
                o.created_at::text AS created_text
            FROM switchyard.outbox AS o
            WHERE o.xid < pg_snapshot_xmin(pg_current_snapshot())
            ORDER BY o.xid, o.id
            LIMIT \(configuration.batchSize)
            """)
        return try rows.map { row in
            let (id, eventID, channel, payload, metadata, source, xid, createdAt) =
                try row.decode((Int64, String, String, String, String, String?, String, String).self)
            return OutboxRow(
                id: id, eventID: eventID, channel: channel, payload: payload, metadata: metadata, source: source, xid: xid,
                createdAt: createdAt)
        }
    }

    /// Publishes the valid rows of a batch, and in one statement archives them, quarantines the
    /// invalid ones and deletes them all from the outbox.
    func relay(_ batch: [OutboxRow], on connection: RelayConnection) async throws -> BatchOutcome {
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
        // One `switchyard.relay` span per row, a child of the trace its metadata carries (the
        // transaction that wrote it); the publish spans are its children.
        let spans = valid.map { item in
            let span = startSpan(
                "switchyard.relay", context: TraceContext.extract(from: item.request.metadata, base: nil), ofKind: .internal)
            span.attributes["messaging.system"] = "switchyard"
            span.attributes["messaging.destination.name"] = item.request.channel.rawValue
            span.attributes["messaging.message.id"] = item.request.eventID?.description ?? ""
            span.attributes["switchyard.outbox_id"] = item.row.id
            return span
        }
        defer { for span in spans { span.end() } }
        for (index, span) in spans.enumerated() {
            valid[index].request.metadata = TraceContext.inject(span.context, into: valid[index].request.metadata)
        }
        var stored: [(receipt: PublishReceipt, envelope: Envelope)] = []
        if !valid.isEmpty {
            do {
                stored = try await router.publishStoring(valid.map(\.request))
            } catch {
                for span in spans { span.fail(error) }
                logger.warning("relay could not publish; retrying", metadata: ["error": "\(error)"])
                return .routerFailed
            }
        }
        let receipts = stored.map(\.receipt)
        let archived = zip(valid, stored).map { item, stored in
            (row: item.row, receipt: stored.receipt, envelope: stored.envelope)
        }
        try await finish(archived: archived, refused: refused, on: connection)
        self.receipts.post(receipts)
        published.increment(by: Int64(archived.count))
        if !refused.isEmpty {
            quarantined.increment(by: Int64(refused.count))
            logger.warning("relay quarantined outbox rows", metadata: ["count": "\(refused.count)"])
            for (row, error) in refused {
                router.auditRefusal(
                    error, channel: try? ChannelName(row.channel), who: row.source.flatMap { $0.isEmpty ? nil : $0 } ?? router.configuration.source,
                    eventID: EventID(row.eventID), attempted: "outbox")
            }
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
        // A row written past `Outbox.emit` (by hand, or before metadata was checked) is
        // quarantined here rather than refused by the router, which would stop the relay.
        try payloadGuard.checkMetadata(checked.metadata(merging: metadataObject), channel: channel, with: checked)
        // A whole REC.IO message goes to the router whole, which keeps its `timestamp` and `metadata`.
        let request = PublishRequest(channel: channel, payload: checked.publishable, metadata: metadataObject, eventID: eventID, source: row.source.flatMap { $0.isEmpty ? nil : $0 })
        return (request, checked.schemaID)
    }

    /// Archives the published rows, quarantines the refused ones, deletes them all from the outbox
    /// and counts them in `relay_state`: one statement, so one round trip and its own transaction.
    /// Every part reads the snapshot the statement started with, so the quarantine copies the
    /// outbox rows the same statement deletes.
    private func finish(
        archived: [(row: OutboxRow, receipt: PublishReceipt, envelope: Envelope)],
        refused: [(row: OutboxRow, error: SwitchyardError)],
        on connection: RelayConnection
    ) async throws {
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
        let refusedIDs = refused.map(\.row.id)
        let errors = refused.map { $0.error.body.serialized() }
        try await connection.query(
            """
            WITH archived AS (
                INSERT INTO switchyard.archive (event_id, channel, sequence_number, stream_id, "timestamp", source,
                    schema, payload, metadata, envelope, outbox_id, outbox_xid, created_at)
                SELECT e::uuid, c, s, sid, t::timestamptz, src, sch, p::jsonb, m::jsonb, env, oid, x::xid8, ca::timestamptz
                FROM unnest(\(eventIDs)::text[], \(channels)::text[], \(sequences)::int8[], \(streamIDs)::text[],
                    \(times)::text[], \(sources)::text[], \(schemas)::text[], \(payloads)::text[], \(metadata)::text[],
                    \(envelopes)::text[], \(outboxIDs)::int8[], \(xids)::text[], \(created)::text[])
                    AS u(e, c, s, sid, t, src, sch, p, m, env, oid, x, ca)
                ON CONFLICT (event_id) DO NOTHING
            ), quarantined AS (
                INSERT INTO switchyard.quarantine (outbox_id, event_id, channel, payload, metadata, created_at, outbox_xid, error, source)
                SELECT o.id, o.event_id, o.channel, o.payload, o.metadata, o.created_at, o.xid, u.err::jsonb, o.source
                FROM unnest(\(refusedIDs)::int8[], \(errors)::text[]) AS u(oid, err)
                JOIN switchyard.outbox o ON o.id = u.oid
                ON CONFLICT (outbox_id) DO NOTHING
            ), deleted AS (
                DELETE FROM switchyard.outbox WHERE id = ANY(\(outboxIDs + refusedIDs)::int8[])
            )
            INSERT INTO switchyard.relay_state (name, holder, published, quarantined)
            VALUES (\(String(configuration.lockKey)), \(holder), \(Int64(archived.count)), \(Int64(refused.count)))
            ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, updated_at = now(),
                published = switchyard.relay_state.published + excluded.published,
                quarantined = switchyard.relay_state.quarantined + excluded.quarantined
            """)
    }
}
