import JSONSchema
import PostgresNIO
import RedisTestSupport
import Switchyard
import SwitchyardPostgres
import RedisTestSupport
import Testing

@Suite("PostgreSQL: outbox and strict mode", .needs(.redis, .postgres))
struct OutboxTests {
    @Test("the caller's write and the event commit together; the relay publishes after the commit and archives it")
    func emitCommitsWithTheCallersWrite() async throws {
        try await TestDatabase.with { db in
            try await db.client.query("CREATE TABLE fills (id int PRIMARY KEY, qty int NOT NULL)")
            let channel = db.channel("fills")
            let relay = try db.relay()
            let eventID = try await db.outbox.withTransaction { tx in
                try await tx.connection.query("INSERT INTO fills VALUES (1, 10)", logger: db.logger)
                return try await tx.emit(to: channel, payload: ["n": 1, "note": "first"], metadata: ["user_id": "u1"])
            }
            #expect(try await db.stored(channel).isEmpty, "nothing reaches Redis without a relay")
            try await db.running(relay) { () async throws in
                #expect(try await eventually(timeout: .seconds(60)) { try await db.stored(channel).count == 1 })
                #expect(try await eventually(timeout: .seconds(60)) { try await db.count("SELECT count(*)::int8 FROM switchyard.outbox") == 0 })
            }
            let stored = try await db.stored(channel)
            #expect(stored.first?.eventID == eventID && stored.first?.data["note"] == "first" && stored.first?.metadata["user_id"] == "u1")
            #expect(try await db.count("SELECT count(*)::int8 FROM fills") == 1)
            let archived = try await Archive(client: db.client, logger: db.logger).events(channel, since: .beginning)
            #expect(archived == stored, "the archive holds the same envelope as Redis")
        }
    }

    @Test("a rolled-back transaction publishes nothing, and a refused payload rolls back the caller's writes")
    func rollbackPublishesNothing() async throws {
        try await TestDatabase.with { db in
            try await db.client.query("CREATE TABLE fills (id int PRIMARY KEY)")
            let channel = db.channel("strict")
            struct Abort: Error {}
            await #expect(throws: Abort.self) {
                try await db.outbox.withTransaction { tx in
                    try await tx.connection.query("INSERT INTO fills VALUES (1)", logger: db.logger)
                    try await tx.emit(to: channel, payload: ["n": 1])
                    throw Abort()
                }
            }
            let refused = await #expect(throws: SwitchyardError.self) {
                try await db.outbox.withTransaction { tx in
                    try await tx.connection.query("INSERT INTO fills VALUES (2)", logger: db.logger)
                    try await tx.emit(to: channel, payload: ["n": 2])
                    try await tx.emit(to: channel, payload: ["n": "not a number"])
                }
            }
            #expect(refused?.code == .validationError)
            #expect(refused?.details["invalid_fields"]?["n"] != nil)
            #expect(try await db.count("SELECT count(*)::int8 FROM fills") == 0)
            #expect(try await db.count("SELECT count(*)::int8 FROM switchyard.outbox") == 0)

            _ = try await db.outbox.withTransaction { tx in try await tx.emit(to: channel, payload: ["n": 3]) }
            try await db.running(try db.relay()) {
                #expect(try await eventually(timeout: .seconds(60)) { try await db.stored(channel).count >= 1 })
                // A settle period: a further event, which must not reach Redis, has none to await.
                try await Task.sleep(for: .milliseconds(300))
            }
            #expect(try await db.stored(channel).map { $0.data["n"] } == [3], "only the committed event reaches Redis")
        }
    }
}
