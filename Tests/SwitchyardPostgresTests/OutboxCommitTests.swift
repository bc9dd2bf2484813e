import Foundation
import JSONSchema
import PostgresNIO
import RedisTestSupport
import Switchyard
import SwitchyardPostgres
import Testing

@Suite("PostgreSQL: the outbox's one-round-trip commit", .needs(.redis, .postgres))
struct OutboxCommitTests {
    @Test("commit stores the business rows and the outbox rows in one transaction, in order, and the relay publishes them")
    func commitStoresBothTogether() async throws {
        try await TestDatabase.with { db in
            try await db.client.query("CREATE TABLE fills (id int PRIMARY KEY, qty int NOT NULL)")
            let channel = db.channel("fills")
            let ids = try await db.outbox.commit(
                [
                    "SELECT pg_advisory_xact_lock(\(42))",
                    "INSERT INTO fills (id, qty) VALUES (\(1), \(10))",
                    // Sees the row the statement before inserted: the statements run in order.
                    "UPDATE fills SET qty = qty + \(5) WHERE id = \(1);",
                ],
                emitting: [
                    OutboxEvent(to: channel, payload: ["n": 1, "note": "first"], metadata: ["user_id": "u1"]),
                    OutboxEvent(to: channel, payload: ["n": 2], source: "fills_service"),
                ])
            #expect(ids.count == 2 && ids[0] != ids[1])
            #expect(try await db.count("SELECT qty::int8 FROM fills WHERE id = 1") == 15)
            // Every row carries the id of the transaction that wrote it: one for all of them.
            #expect(try await db.count("SELECT count(DISTINCT xid)::int8 FROM switchyard.outbox") == 1)
            #expect(try await db.count("SELECT count(*)::int8 FROM fills f JOIN switchyard.outbox o ON f.xmin = xid(o.xid)") == 2)
            var outbox: [(String, String?)] = []
            for try await row in try await db.client.query("SELECT event_id::text, source FROM switchyard.outbox ORDER BY id").decode((String, String?).self) {
                outbox.append(row)
            }
            #expect(outbox.map(\.0) == ids.map(\.description))
            #expect(outbox.map(\.1) == [nil, "fills_service"])

            try await db.running(try db.relay()) { () async throws in
                #expect(try await eventually(timeout: .seconds(60)) { try await db.stored(channel).count == 2 })
            }
            let stored = try await db.stored(channel)
            #expect(stored.map(\.eventID) == ids)
            #expect(stored.first?.data["note"] == "first" && stored.first?.metadata["user_id"] == "u1")
            #expect(stored.last?.source == "fills_service")
        }
    }

    @Test("commit with events only inserts them in order, one round trip with bound parameters")
    func commitEventsOnly() async throws {
        try await TestDatabase.with { db in
            let channel = db.channel("only")
            let events = (1...30).map { OutboxEvent(to: channel, payload: ["n": .int(Int64($0)), "note": "it's \\ \"quoted\""]) }
            let ids = try await db.outbox.commit(emitting: events)
            var stored: [(String, String)] = []
            for try await row in try await db.client.query("SELECT event_id::text, payload->>'note' FROM switchyard.outbox ORDER BY id").decode((String, String).self) {
                stored.append(row)
            }
            #expect(stored.map(\.0) == ids.map(\.description))
            #expect(stored.allSatisfy { $0.1 == "it's \\ \"quoted\"" })
            #expect(try await db.outbox.commit(emitting: []).isEmpty)
        }
    }

    @Test("a failing statement rolls back the business rows and the outbox rows and names the statement")
    func failingStatementRollsBackEverything() async throws {
        try await TestDatabase.with { db in
            try await db.client.query("CREATE TABLE fills (id int PRIMARY KEY)")
            let channel = db.channel("fail")
            let failure = await #expect(throws: OutboxCommitError.self) {
                try await db.outbox.commit(
                    ["INSERT INTO fills VALUES (\(1))", "INSERT INTO fills VALUES (\(2))", "INSERT INTO fills VALUES (\(1))"],
                    emitting: [OutboxEvent(to: channel, payload: ["n": 1])])
            }
            #expect(failure?.statementIndex == 2)
            #expect(failure?.sqlState == "23505")
            #expect(failure?.description.contains("rolled back") == true)
            #expect(try await db.count("SELECT count(*)::int8 FROM fills") == 0)
            #expect(try await db.count("SELECT count(*)::int8 FROM switchyard.outbox") == 0)

            // A failure in the outbox insert (here: a trigger refusing it) rolls back the statements before it.
            try await db.client.query(
                """
                CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused' USING ERRCODE = 'P0001'; END $$
                """)
            try await db.client.query("CREATE TRIGGER refuse BEFORE INSERT ON switchyard.outbox FOR EACH ROW EXECUTE FUNCTION refuse()")
            let refused = await #expect(throws: OutboxCommitError.self) {
                try await db.outbox.commit(["INSERT INTO fills VALUES (\(3))"], emitting: [OutboxEvent(to: channel, payload: ["n": 3])])
            }
            #expect(refused?.statementIndex == nil && refused?.sqlState == "P0001")
            #expect(try await db.count("SELECT count(*)::int8 FROM fills") == 0)
            #expect(try await db.count("SELECT count(*)::int8 FROM switchyard.outbox") == 0)
        }
    }

    @Test("values are written as literals that read back exactly, whatever they hold, an injection attempt included")
    func literalsRoundTrip() async throws {
        try await TestDatabase.with { db in
            try await db.client.query(
                """
                CREATE TABLE nasty (id int PRIMARY KEY, t text, j jsonb, i int8, d float8, b bool, u uuid, at timestamptz, n numeric, a text[])
                """)
            let texts = [
                "O'Brien", "''", "'", "\\", "back\\slash\\\\ and \\' and \\\\'", "'); DROP TABLE nasty; --", "a;b; COMMIT; c",
                "$$ dollar $switchyard$ tag $switchyard_$ END $$", "E'x'", "\"quoted\"", "Zürich 東京 🚀 é\u{301}", "line\nbreak\ttab\r",
                "/* not a comment */ -- nor this", "", String(repeating: "x'\\", count: 2_000),
            ]
            let uuid = UUID()
            let at = Date(timeIntervalSince1970: 1_769_508_000.123456)
            let json: JSONValue = ["quote": "it's", "slash": "a\\b", "list": [1, 2.5, "'; --"]]
            let channel = db.channel("nasty")
            try await db.client.withConnection { connection in
                // Escape strings read the same whichever way this is set.
                try await connection.query("SET standard_conforming_strings = off", logger: db.logger)
                try await db.outbox.commit(
                    texts.enumerated().map { index, text in "INSERT INTO nasty (id, t) VALUES (\(index), \(text))" }
                        + [
                            """
                            INSERT INTO nasty (id, j, i, d, b, u, at, n, a) VALUES (\(1000), \(json), \(Int.min), \(0.1), \(true), \(uuid), \(at),
                                \(Decimal(string: "12345678901234567890.123456")!), \(["a'b", "c\\d", "{,}"]))
                            """,
                            "INSERT INTO nasty (id, t, i, d) VALUES (\(1001), \(String?.none), \(Int.max), \(Double.infinity))",
                        ],
                    emitting: [OutboxEvent(to: channel, payload: ["n": 1, "note": .string(texts[5] + texts[4] + texts[7])])], on: connection)
            }
            var read: [Int: String] = [:]
            for try await (id, text) in try await db.client.query("SELECT id, t FROM nasty WHERE id < 1000").decode((Int, String).self) {
                read[id] = text
            }
            #expect(read.count == texts.count)
            for (index, text) in texts.enumerated() { #expect(read[index] == text, "text \(index)") }
            let rows = try await db.client.query(
                "SELECT j::text, i, d, b, u::text, extract(epoch FROM at)::text, n::text, a FROM nasty WHERE id = 1000")
            for try await (j, i, d, b, u, epoch, n, a) in rows.decode((String, Int, Double, Bool, String, String, String, [String]).self) {
                let parsed = try JSONValue(parsing: j)
                #expect(parsed["quote"] == json["quote"] && parsed["slash"] == json["slash"] && parsed["list"] == json["list"])
                #expect(i == Int.min && d == 0.1 && b)
                #expect(u == uuid.uuidString.lowercased())
                #expect(epoch == "1769508000.123456")
                #expect(n == "12345678901234567890.123456")
                #expect(a == ["a'b", "c\\d", "{,}"])
            }
            #expect(try await db.count("SELECT count(*)::int8 FROM nasty WHERE id = 1001 AND t IS NULL AND i = 9223372036854775807 AND d = 'Infinity'") == 1)
            var note = ""
            for try await value in try await db.client.query("SELECT payload->>'note' FROM switchyard.outbox").decode(String.self) { note = value }
            #expect(note == texts[5] + texts[4] + texts[7])
        }
    }

    @Test("a refused payload, a value PostgreSQL cannot hold or transaction control sends nothing at all")
    func refusedInputSendsNothing() async throws {
        try await TestDatabase.with { db in
            try await db.client.query("CREATE TABLE fills (id int PRIMARY KEY, note text)")
            let channel = db.channel("refused")
            try await db.client.withConnection { connection in
                var pid = 0
                for try await value in try await connection.query("SELECT pg_backend_pid()", logger: db.logger).decode(Int.self) { pid = value }
                try await connection.query("SELECT 'marker'", logger: db.logger)
                /// The last statement this connection sent, as PostgreSQL saw it.
                func lastSent() async throws -> String {
                    var query = ""
                    for try await value in try await db.client.query("SELECT query FROM pg_stat_activity WHERE pid = \(pid)").decode(String.self) { query = value }
                    return query
                }
                #expect(try await lastSent() == "SELECT 'marker'")

                let invalid = await #expect(throws: SwitchyardError.self) {
                    try await db.outbox.commit(
                        ["INSERT INTO fills VALUES (\(1), \("kept?"))"],
                        emitting: [OutboxEvent(to: channel, payload: ["n": 1]), OutboxEvent(to: channel, payload: ["n": "not a number"])],
                        on: connection)
                }
                #expect(invalid?.code == .validationError && invalid?.details["index"] == 1)
                let nul = await #expect(throws: SwitchyardError.self) {
                    try await db.outbox.commit(["INSERT INTO fills VALUES (\(2), \("a\u{0}b"))"], emitting: [], on: connection)
                }
                #expect(nul?.code == .validationError && nul?.details["index"] == 0)
                let control = await #expect(throws: SwitchyardError.self) {
                    try await db.outbox.commit(
                        ["INSERT INTO fills VALUES (\(3), 'x'); /* then */ COMMIT"], emitting: [OutboxEvent(to: channel, payload: ["n": 3])],
                        on: connection)
                }
                #expect(control?.message.contains("COMMIT") == true)
                #expect(try await lastSent() == "SELECT 'marker'", "nothing reached PostgreSQL")

                try await db.outbox.commit(["INSERT INTO fills VALUES (\(4), \("sent"))"], emitting: [], on: connection)
                #expect(try await lastSent().hasPrefix("DO $switchyard$"), "one statement carries the whole transaction")
            }
            #expect(try await db.count("SELECT count(*)::int8 FROM fills") == 1)
            #expect(try await db.count("SELECT count(*)::int8 FROM switchyard.outbox") == 0)
        }
    }

    @Test("withTransaction still commits the caller's statements and its events together")
    func withTransactionStillWorks() async throws {
        try await TestDatabase.with { db in
            try await db.client.query("CREATE TABLE fills (id int PRIMARY KEY)")
            let channel = db.channel("tx")
            try await db.outbox.withTransaction { tx in
                try await tx.connection.query("INSERT INTO fills VALUES (1)", logger: db.logger)
                try await tx.emit(to: channel, payload: ["n": 1])
            }
            #expect(try await db.count("SELECT count(*)::int8 FROM fills f JOIN switchyard.outbox o ON f.xmin = xid(o.xid)") == 1)
        }
    }
}
