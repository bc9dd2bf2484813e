import Logging
import PostgresNIO

/// The versioned migrations of the `switchyard` schema: outbox, archive, quarantine, inbox,
/// relay state, the audit trail, and the outbox trigger that notifies only while the relay waits.
///
/// ``apply(client:logger:)`` runs every migration not yet recorded in `switchyard.migrations`,
/// each in its own transaction, while it holds a session advisory lock: any number of processes
/// may migrate at once, and each version is applied exactly once.
public enum Migrations {
    /// One migration: a version, a name and the statements it runs, in order.
    public struct Migration: Sendable {
        /// The version, from 1, increasing by one.
        public let version: Int
        /// What it does, in a few words.
        public let name: String
        /// The SQL statements, one per element.
        public let statements: [String]
    }

    /// The advisory lock key every migrator takes (`pg_advisory_lock`).
    public static let lockKey: Int64 = 0x5377_5944_4D49_4752

    /// The advisory lock key of the relay's request for a notification (migration 4).
    ///
    /// The leading relay holds this lock, exclusively and for its session, only while it has
    /// found the outbox empty and waits. The outbox trigger tries to take it shared for the
    /// writer's transaction (`pg_try_advisory_xact_lock_shared`, which never waits): when it
    /// gets it, the relay is not waiting and the writer does not notify, so its commit shares
    /// WAL flushes with the others; when it does not, the writer sends `NOTIFY
    /// switchyard_outbox` at commit. A writer holds the shared lock until its transaction has
    /// ended, so the relay gets the lock only once every writer that did not notify has
    /// committed or rolled back; it then reads once more before it sleeps.
    public static let relayWaitingLockKey: Int64 = 0x5377_5944_5741_4954

    /// Every migration, oldest first.
    public static let all: [Migration] = [
        Migration(version: 1, name: "outbox, archive, quarantine, inbox, relay state", statements: [
            """
            CREATE FUNCTION switchyard.uuid_v7() RETURNS uuid LANGUAGE sql VOLATILE AS $$
              SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) PLACING
                substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid
            $$
            """,
            """
            CREATE TABLE switchyard.outbox (
                id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                event_id    uuid        NOT NULL DEFAULT switchyard.uuid_v7(),
                channel     text        NOT NULL,
                payload     jsonb       NOT NULL,
                metadata    jsonb       NOT NULL DEFAULT '{}',
                created_at  timestamptz NOT NULL DEFAULT now(),
                xid         xid8        NOT NULL DEFAULT pg_current_xact_id()
            )
            """,
            "CREATE INDEX outbox_order ON switchyard.outbox (xid, id)",
            """
            CREATE FUNCTION switchyard.notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              PERFORM pg_notify('switchyard_outbox', '');
              RETURN NULL;
            END
            $$
            """,
            """
            CREATE TRIGGER outbox_notify AFTER INSERT ON switchyard.outbox
              FOR EACH STATEMENT EXECUTE FUNCTION switchyard.notify_outbox()
            """,
            """
            CREATE TABLE switchyard.archive (
                event_id        uuid        PRIMARY KEY,
                channel         text        NOT NULL,
                sequence_number bigint      NOT NULL,
                stream_id       text        NOT NULL,
                "timestamp"     timestamptz NOT NULL,
                source          text        NOT NULL,
                schema          text        NOT NULL,
                payload         jsonb       NOT NULL,
                metadata        jsonb       NOT NULL,
                envelope        text        NOT NULL,
                outbox_id       bigint      NOT NULL,
                outbox_xid      xid8        NOT NULL,
                created_at      timestamptz NOT NULL,
                published_at    timestamptz NOT NULL DEFAULT now()
            )
            """,
            "CREATE INDEX archive_channel_sequence ON switchyard.archive (channel, sequence_number)",
            "CREATE INDEX archive_channel_time ON switchyard.archive (channel, \"timestamp\")",
            """
            CREATE TABLE switchyard.quarantine (
                outbox_id       bigint      PRIMARY KEY,
                event_id        uuid        NOT NULL,
                channel         text        NOT NULL,
                payload         jsonb       NOT NULL,
                metadata        jsonb       NOT NULL,
                created_at      timestamptz NOT NULL,
                outbox_xid      xid8        NOT NULL,
                error           jsonb       NOT NULL,
                quarantined_at  timestamptz NOT NULL DEFAULT now()
            )
            """,
            """
            CREATE TABLE switchyard.inbox (
                consumer_group  text        NOT NULL,
                event_id        uuid        NOT NULL,
                channel         text        NOT NULL,
                sequence_number bigint      NOT NULL,
                processed_at    timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (consumer_group, event_id)
            )
            """,
            """
            CREATE TABLE switchyard.relay_state (
                name            text        PRIMARY KEY,
                holder          text        NOT NULL,
                published       bigint      NOT NULL DEFAULT 0,
                quarantined     bigint      NOT NULL DEFAULT 0,
                updated_at      timestamptz NOT NULL DEFAULT now()
            )
            """,
        ]),
        Migration(version: 2, name: "outbox and quarantine source", statements: [
            "ALTER TABLE switchyard.outbox ADD COLUMN source text",
            "ALTER TABLE switchyard.quarantine ADD COLUMN source text",
        ]),
        Migration(version: 3, name: "audit trail", statements: [
            """
            CREATE TABLE switchyard.audit (
                id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                at              timestamptz NOT NULL,
                action          text        NOT NULL,
                who             text        NOT NULL,
                channel         text,
                event_id        uuid,
                sequence_number bigint,
                reason          text,
                details         jsonb       NOT NULL DEFAULT '{}',
                recorded_at     timestamptz NOT NULL DEFAULT now()
            )
            """,
            "CREATE INDEX audit_at ON switchyard.audit (at, id)",
            "CREATE INDEX audit_event ON switchyard.audit (event_id)",
            "CREATE INDEX audit_channel_at ON switchyard.audit (channel, at)",
            "CREATE INDEX audit_who_at ON switchyard.audit (who, at)",
            """
            CREATE FUNCTION switchyard.audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              RAISE EXCEPTION 'switchyard.audit is append-only: % is not allowed', TG_OP;
            END
            $$
            """,
            """
            CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON switchyard.audit
              FOR EACH ROW EXECUTE FUNCTION switchyard.audit_append_only()
            """,
            """
            CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON switchyard.audit
              FOR EACH STATEMENT EXECUTE FUNCTION switchyard.audit_append_only()
            """,
        ]),
        Migration(version: 4, name: "outbox notifies only while the relay waits", statements: [
            """
            CREATE OR REPLACE FUNCTION switchyard.notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              -- The relay holds this lock only while it waits for rows (Migrations.relayWaitingLockKey).
              IF NOT pg_try_advisory_xact_lock_shared(\(relayWaitingLockKey)) THEN
                PERFORM pg_notify('switchyard_outbox', '');
              END IF;
              RETURN NULL;
            END
            $$
            """,
        ]),
    ]

    /// The newest version.
    public static var latestVersion: Int { all.last?.version ?? 0 }

    /// Applies the migrations not yet applied; safe to run from several processes at once.
    /// - Parameters:
    ///   - client: The pool to take one connection from.
    ///   - logger: Where applied versions are reported.
    /// - Returns: The versions this call applied (empty when the schema was up to date).
    /// - Throws: The PostgreSQL error of the failing statement; that migration is rolled back.
    @discardableResult
    public static func apply(client: PostgresClient, logger: Logger) async throws -> [Int] {
        try await client.withConnection { connection in
            try await apply(connection: connection, logger: logger)
        }
    }

    /// Applies the migrations on one connection, as ``apply(client:logger:)`` does.
    @discardableResult
    public static func apply(connection: PostgresConnection, logger: Logger) async throws -> [Int] {
        try await connection.query("SELECT pg_advisory_lock(\(lockKey))", logger: logger)
        do {
            let applied = try await applyLocked(connection: connection, logger: logger)
            try await connection.query("SELECT pg_advisory_unlock(\(lockKey))", logger: logger)
            return applied
        } catch {
            _ = try? await connection.query("SELECT pg_advisory_unlock(\(lockKey))", logger: logger)
            throw error
        }
    }

    private static func applyLocked(connection: PostgresConnection, logger: Logger) async throws -> [Int] {
        try await connection.query("CREATE SCHEMA IF NOT EXISTS switchyard", logger: logger)
        try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS switchyard.migrations (
                version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
            """, logger: logger)
        var done: Set<Int> = []
        for try await version in try await connection.query("SELECT version FROM switchyard.migrations", logger: logger).decode(Int.self) {
            done.insert(version)
        }
        var applied: [Int] = []
        for migration in all where !done.contains(migration.version) {
            try await connection.withTransaction(logger: logger) { connection in
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    "INSERT INTO switchyard.migrations (version, name) VALUES (\(migration.version), \(migration.name))",
                    logger: logger)
            }
            logger.info("applied migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
            applied.append(migration.version)
        }
        return applied
    }
}
