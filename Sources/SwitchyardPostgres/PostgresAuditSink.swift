import Foundation
import JSONSchema
import Logging
import PostgresNIO
import Switchyard
import Synchronization

/// The audit trail in PostgreSQL: the append-only table `switchyard.audit` (migration 3), beside
/// the archive. A trigger refuses `UPDATE`, `DELETE` and `TRUNCATE` on it.
///
/// Each batch of an ``Switchyard/AuditTrail`` is one `INSERT … SELECT` from a JSON array of the records. The first
/// append applies the migrations if they have not been applied.
public final class PostgresAuditSink: AuditSink {
    /// The pool the records are written with.
    public let client: PostgresClient
    private let runsClient: Bool
    private let logger: Logger
    private let migrated = Atomic<Bool>(false)

    /// A sink on a pool the caller runs.
    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.runsClient = false
        self.logger = logger
    }

    /// A sink with a pool of its own on `url`, run by ``run()`` (so the trail's last batch is
    /// written before the pool stops).
    public init(url: PostgresURL, logger: Logger) {
        self.client = PostgresClient(configuration: url.clientConfiguration, backgroundLogger: logger)
        self.runsClient = true
        self.logger = logger
    }

    public func run() async throws {
        if runsClient { await client.run() }
    }

    public func append(_ records: [AuditRecord]) async throws {
        guard !records.isEmpty else { return }
        if !migrated.load(ordering: .acquiring) {
            try await Migrations.apply(client: client, logger: logger)
            migrated.store(true, ordering: .releasing)
        }
        let batch = JSONValue.array(records.map(\.jsonValue)).serialized()
        try await client.query(
            """
            INSERT INTO switchyard.audit (at, action, who, channel, event_id, sequence_number, reason, details)
            SELECT (e.v->>'at')::timestamptz, e.v->>'action', e.v->>'who', e.v->>'channel', (e.v->>'event_id')::uuid,
                (e.v->>'sequence_number')::int8, e.v->>'reason', COALESCE(e.v->'details', '{}'::jsonb)
            FROM jsonb_array_elements(\(batch)::jsonb) WITH ORDINALITY AS e(v, n)
            ORDER BY e.n
            """, logger: logger)
    }

    public func records(matching query: AuditQuery) async throws -> [AuditRecord] {
        // The channel filter is a glob: PostgreSQL narrows by its literal prefix, Switchyard matches the rest.
        let prefix = query.channel.map { Self.likePrefix($0.literalPrefix) + "%" }
        let literal = query.channel.flatMap { $0.isLiteral ? $0.rawValue : nil }
        let actions = query.actions.map(\.rawValue)
        let limit = query.channel?.isLiteral == false ? Int64.max : Int64(query.limit)
        let rows = try await client.query(
            """
            SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), action, who, channel, event_id::text,
                sequence_number, reason, details::text
            FROM switchyard.audit
            WHERE (\(literal)::text IS NULL OR channel = \(literal)::text)
              AND (\(prefix)::text IS NULL OR channel LIKE \(prefix)::text)
              AND (\(query.who)::text IS NULL OR who = \(query.who)::text)
              AND (\(query.eventID?.description)::uuid IS NULL OR event_id = \(query.eventID?.description)::uuid)
              AND (\(query.since?.description)::timestamptz IS NULL OR at >= \(query.since?.description)::timestamptz)
              AND (\(query.until?.description)::timestamptz IS NULL OR at <= \(query.until?.description)::timestamptz)
              AND (cardinality(\(actions)::text[]) = 0 OR action = ANY(\(actions)::text[]))
            ORDER BY at, id
            LIMIT \(limit)
            """, logger: logger)
        var found: [AuditRecord] = []
        for try await (at, action, who, channel, eventID, sequence, reason, details)
            in rows.decode((String, String, String, String?, String?, Int64?, String?, String).self)
        {
            guard found.count < query.limit, let time = Timestamp(rfc3339: at) else { continue }
            let record = AuditRecord(
                at: time, action: AuditRecord.Action(action), who: who, channel: channel, eventID: eventID.flatMap(EventID.init),
                sequenceNumber: sequence, reason: reason, details: (try? JSONValue(parsing: details))?.objectValue ?? [:])
            if query.matches(record) { found.append(record) }
        }
        return found
    }

    /// `text` with LIKE's wildcards and escape character escaped.
    static func likePrefix(_ text: String) -> String {
        var escaped = ""
        for character in text {
            if character == "%" || character == "_" || character == "\\" { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }
}
