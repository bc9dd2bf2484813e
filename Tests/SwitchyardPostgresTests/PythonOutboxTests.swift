import Foundation
import JSONSchema
import RedisTestSupport
import Switchyard
import SwitchyardPostgres
import RedisTestSupport
import Testing

/// Runs docs/examples/outbox_emit.py (psycopg): plain SQL inserts into the outbox, relayed to Redis.
@Suite("PostgreSQL: Python emits through the outbox", .needs(.redis, .postgres, .python))
struct PythonOutboxTests {
    static var python: String { ProcessInfo.processInfo.environment["SWITCHYARD_PYTHON"] ?? "python3" }

    static func run(_ arguments: [String]) async throws -> (status: Int32, output: String, errors: String) {
        try await runProcess("/usr/bin/env", [python] + arguments)
    }

    @Test("the psycopg example's committed events reach Redis; the rolled-back one does not")
    func pythonExample() async throws {
        let probe = try await Self.run(["-c", "import psycopg"])
        try #require(probe.status == 0, "psycopg is missing for '\(Self.python)': run the tests through scripts/test, or set SWITCHYARD_PYTHON")
        try await TestDatabase.with { db in
            let channel = db.channel("python")
            let arguments = [
                PackageRoot.url.appendingPathComponent("docs/examples/outbox_emit.py").path,
                "--url", "postgresql://\(db.url.username)@\(db.url.host):\(db.url.port)/\(db.name)", "--channel", channel.rawValue,
            ]
            let result = try await Self.run(arguments)
            try #require(result.status == 0, "the Python example failed: \(result.errors)")
            let report = try JSONValue(parsing: result.output)
            let committed = (report["committed"]?.arrayValue ?? []).compactMap { $0.stringValue.flatMap(EventID.init) }
            #expect(committed.count == 3)
            try await db.running(try db.relay()) {
                #expect(try await eventually(timeout: .seconds(60)) { try await db.stored(channel).count == 3 })
                // A settle period: a further event, which must not reach Redis, has none to await.
                try await Task.sleep(for: .milliseconds(300))
            }
            let stored = try await db.stored(channel)
            #expect(stored.map(\.eventID) == committed)
            #expect(stored.map { $0.data["n"]?.integer ?? -1 } == [1, 2, 3])
            #expect(stored.first?.metadata["user_id"] == "py")
            #expect(!stored.contains { $0.eventID.description == report["rolled_back"]?.stringValue })
            #expect(try await db.count("SELECT count(*)::int8 FROM py_orders") == 2)
        }
    }
}
