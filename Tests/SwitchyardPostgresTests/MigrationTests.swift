import Logging
import PostgresNIO
import SwitchyardPostgres
import RedisTestSupport
import Testing

@Suite("PostgreSQL: migrations", .needs(.postgres))
struct MigrationTests {
    @Test("migrating again changes nothing, and eight migrators at once apply each version once")
    func idempotentAndConcurrent() async throws {
        try await TestDatabase.with { (db: TestDatabase) async throws -> Void in
            #expect(try await Migrations.apply(client: db.client, logger: db.logger).isEmpty)
            #expect(try await db.count("SELECT count(*)::int8 FROM switchyard.migrations") == Migrations.latestVersion)
        }
        let admin = try TestDatabase.adminURL()
        let logger = Logger(label: "test.migrations")
        let name = "sy_m\(UInt32.random(in: .min ... .max))"
        try await TestDatabase.withAdmin(admin, logger: logger) { try await $0.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger) }
        var fresh = admin
        fresh.database = name
        let url = fresh
        let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
            for _ in 0..<8 {
                group.addTask { try await TestDatabase.withAdmin(url, logger: logger) { try await Migrations.apply(connection: $0, logger: logger) } }
            }
            var all: [Int] = []
            for try await versions in group { all += versions }
            return all
        }
        #expect(applied.sorted() == Migrations.all.map(\.version))
        try await TestDatabase.withAdmin(admin, logger: logger) { try await $0.query(PostgresQuery(unsafeSQL: "DROP DATABASE \(name) WITH (FORCE)"), logger: logger) }
    }
}
