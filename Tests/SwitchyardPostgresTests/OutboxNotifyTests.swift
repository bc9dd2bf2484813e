import Logging
import PostgresNIO
import RedisTestSupport
import Switchyard
import SwitchyardPostgres
import Synchronization
import Testing

/// Writers notify only while the relay waits: the relay holds the waiting lock then, and the
/// outbox trigger notifies only when it cannot take that lock shared (migration 4).
@Suite("PostgreSQL: outbox notifications", .needs(.redis, .postgres))
struct OutboxNotifyTests {
    /// A relay whose fallback poll never comes within a test: whatever it relays, a notification
    /// (or its own reading while writers are in flight) brought it there.
    static let noPoll = Relay.Configuration(pollInterval: .seconds(3600), retryDelay: .milliseconds(100))

    /// Whether a session of this database holds the waiting lock exclusively (a relay waits).
    static let waitingSQL = """
        SELECT count(*)::int8 FROM pg_locks
        WHERE locktype = 'advisory' AND granted AND mode = 'ExclusiveLock' AND objsubid = 1
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND ((classid::int8 << 32) | objid::int8) = \(Migrations.relayWaitingLockKey)
        """

    @Test("an idle relay relays a commit when notified, with no poll to fall back on")
    func wakesAfterIdling() async throws {
        try await TestDatabase.with { db in
            let channel = db.channel("wake")
            try await db.running(try db.relay(Self.noPoll)) {
                for n in 1...3 {
                    #expect(try await eventually { try await db.count(Self.waitingSQL) == 1 }, "the relay waits")
                    try await Task.sleep(for: .milliseconds(200))
                    try await db.client.query(
                        "INSERT INTO switchyard.outbox (channel, payload) VALUES (\(channel.rawValue), \(#"{"n":\#(n)}"#)::jsonb)")
                    #expect(try await eventually { try await db.count("SELECT count(*)::int8 FROM switchyard.archive") == n }, "event \(n) relayed")
                }
            }
            #expect(try await db.stored(channel).map { $0.data["n"] } == [1, 2, 3])
        }
    }

    @Test("commits racing the relay's going to sleep are never missed (300 rounds, with writers in flight while it takes the lock)")
    func racingCommitsAreNotMissed() async throws {
        try await TestDatabase.with { db in
            let channel = db.channel("race")
            let counter = SharedCounter()
            try await db.running(try db.relay(Self.noPoll)) {
                for round in 0..<300 {
                    // Land each round at a different point of the relay's publish, take-the-lock,
                    // read, sleep sequence: right after the last round was archived, or a little later.
                    try await Task.sleep(for: .microseconds(Int.random(in: 0...2_000)))
                    let writers = Int.random(in: 1...3)
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for _ in 0..<writers {
                            let n = counter.next()
                            let payload = #"{"n":\#(n)}"#
                            if Bool.random() {
                                group.addTask {
                                    try await db.client.query(
                                        "INSERT INTO switchyard.outbox (channel, payload) VALUES (\(channel.rawValue), \(payload)::jsonb)")
                                }
                            } else {
                                // In flight (holding the lock shared, not notifying) while the relay may try to wait.
                                let hold = Int.random(in: 0...3_000)
                                group.addTask {
                                    try await db.client.withConnection { connection in
                                        try await connection.query("BEGIN", logger: db.logger)
                                        try await connection.query(
                                            "INSERT INTO switchyard.outbox (channel, payload) VALUES (\(channel.rawValue), \(payload)::jsonb)",
                                            logger: db.logger)
                                        try await Task.sleep(for: .microseconds(hold))
                                        try await connection.query("COMMIT", logger: db.logger)
                                    }
                                }
                            }
                        }
                        try await group.waitForAll()
                    }
                    let total = Int(counter.value)
                    let relayed = try await eventually(timeout: .seconds(20), every: .milliseconds(1)) {
                        try await db.count("SELECT count(*)::int8 FROM switchyard.archive") == total
                    }
                    #expect(relayed, "round \(round): \(total) events committed, all relayed")
                    if !relayed { return }
                }
            }
            let stored = try await db.stored(channel)
            #expect(stored.count == Int(counter.value))
            expectGapFreeAndUnique(stored)
        }
    }

    @Test("writers do not notify while no relay waits, and notify while one does")
    func writersNotifyOnlyWhileTheRelayWaits() async throws {
        try await TestDatabase.with { db in
            let channel = db.channel("quiet")
            try await Notifications.listening(db.url, logger: db.logger) { notifications in
                try await db.client.withConnection { writer in
                    try await Self.write(channel, on: writer, db: db)
                    #expect(try await notifications.countUntilMarker(from: writer, logger: db.logger) == 0, "nobody waits: no NOTIFY")

                    try await TestDatabase.withAdmin(db.url, logger: db.logger) { relay in
                        // What a relay does before it sleeps.
                        try await relay.query("SELECT pg_advisory_lock(\(Migrations.relayWaitingLockKey))", logger: db.logger)
                        try await Self.write(channel, on: writer, db: db)
                        #expect(try await notifications.countUntilMarker(from: writer, logger: db.logger) == 3, "one NOTIFY per transaction")
                        try await relay.query("SELECT pg_advisory_unlock(\(Migrations.relayWaitingLockKey))", logger: db.logger)
                    }
                    try await Self.write(channel, on: writer, db: db)
                    #expect(try await notifications.countUntilMarker(from: writer, logger: db.logger) == 0, "the relay is busy: no NOTIFY")
                }
            }
            #expect(try await db.count("SELECT count(*)::int8 FROM switchyard.outbox") == 12)
        }
    }

    @Test("a database at version 3 upgrades in place: its rows are relayed, and its writers stop notifying")
    func upgradeFromVersion3() async throws {
        try await TestDatabase.with { db in
            let channel = db.channel("upgrade")
            try await db.client.withConnection { connection in
                try await connection.query("DROP SCHEMA switchyard CASCADE", logger: db.logger)
                try await Self.migrate(through: 3, on: connection, logger: db.logger)
            }
            try await Notifications.listening(db.url, logger: db.logger) { notifications in
                try await db.client.withConnection { writer in
                    try await Self.write(channel, on: writer, db: db)
                    #expect(try await notifications.countUntilMarker(from: writer, logger: db.logger) == 3, "version 3 notifies on every commit")
                    #expect(try await Migrations.apply(connection: writer, logger: db.logger) == [4])
                    #expect(try await Migrations.apply(connection: writer, logger: db.logger).isEmpty)
                    // The same session: PL/pgSQL takes the new function body at its next call.
                    try await Self.write(channel, on: writer, db: db)
                    #expect(try await notifications.countUntilMarker(from: writer, logger: db.logger) == 0, "version 4 notifies only while a relay waits")
                }
            }
            try await db.running(try db.relay(Self.noPoll)) {
                #expect(try await eventually { try await db.count("SELECT count(*)::int8 FROM switchyard.archive") == 8 })
                #expect(try await eventually { try await db.count(Self.waitingSQL) == 1 }, "the relay waits")
                try await db.client.query("INSERT INTO switchyard.outbox (channel, payload) VALUES (\(channel.rawValue), '{\"n\":9}'::jsonb)")
                #expect(try await eventually { try await db.count("SELECT count(*)::int8 FROM switchyard.archive") == 9 }, "woken by NOTIFY")
            }
            #expect(try await db.stored(channel).map { $0.data["n"] } == [1, 2, 3, 4, 5, 6, 7, 8, 9])
        }
    }

    /// Writes three transactions: an autocommitted insert, a transaction of two inserts (two
    /// statements, one notification at most), and an insert of two rows in one statement; four
    /// rows, `n` counting on from the outbox and archive rows already there.
    static func write(_ channel: ChannelName, on connection: PostgresConnection, db: TestDatabase) async throws {
        var next = 0
        for try await count in try await connection.query(
            "SELECT ((SELECT count(*) FROM switchyard.outbox) + (SELECT count(*) FROM switchyard.archive))::int8", logger: db.logger
        ).decode(Int.self) { next = count }
        func payload(_ offset: Int) -> String { #"{"n":\#(next + offset)}"# }
        try await connection.query(
            "INSERT INTO switchyard.outbox (channel, payload) VALUES (\(channel.rawValue), \(payload(1))::jsonb)", logger: db.logger)
        try await connection.query("BEGIN", logger: db.logger)
        try await connection.query(
            "INSERT INTO switchyard.outbox (channel, payload) VALUES (\(channel.rawValue), \(payload(2))::jsonb)", logger: db.logger)
        try await connection.query("COMMIT", logger: db.logger)
        try await connection.query(
            "INSERT INTO switchyard.outbox (channel, payload) VALUES (\(channel.rawValue), \(payload(3))::jsonb), (\(channel.rawValue), \(payload(4))::jsonb)",
            logger: db.logger)
    }

    /// Builds the schema as `switchyard migrate` left it at `version`.
    static func migrate(through version: Int, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("CREATE SCHEMA switchyard", logger: logger)
        try await connection.query(
            "CREATE TABLE switchyard.migrations (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
            logger: logger)
        for migration in Migrations.all where migration.version <= version {
            try await connection.query("BEGIN", logger: logger)
            for statement in migration.statements { try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger) }
            try await connection.query("INSERT INTO switchyard.migrations (version, name) VALUES (\(migration.version), \(migration.name))", logger: logger)
            try await connection.query("COMMIT", logger: logger)
        }
    }
}

/// The `switchyard_outbox` notifications one session receives.
final class Notifications: Sendable {
    private let received = Mutex<[String]>([])

    /// Runs `body` while a connection of its own listens on `switchyard_outbox`.
    static func listening<T: Sendable>(_ url: PostgresURL, logger: Logger, _ body: (Notifications) async throws -> T) async throws -> T {
        let notifications = Notifications()
        return try await TestDatabase.withAdmin(url, logger: logger) { connection in
            let listener = connection.addListener(channel: "switchyard_outbox") { _, message in
                notifications.received.withLock { $0.append(message.payload) }
            }
            defer { listener.stop() }
            try await connection.query("LISTEN switchyard_outbox", logger: logger)
            return try await body(notifications)
        }
    }

    /// Sends a marker notification from `connection` and waits for it: notifications arrive in
    /// commit order, so every one committed before it has arrived by then. Returns how many
    /// arrived before it (and forgets them).
    func countUntilMarker(from connection: PostgresConnection, logger: Logger) async throws -> Int {
        let marker = "marker-\(UInt64.random(in: .min ... .max))"
        try await connection.query("SELECT pg_notify('switchyard_outbox', \(marker))", logger: logger)
        guard try await eventually(every: .milliseconds(2), { self.received.withLock { $0.contains(marker) } }) else { return -1 }
        return received.withLock { received in
            defer { received = [] }
            return received.prefix { $0 != marker }.count
        }
    }
}
