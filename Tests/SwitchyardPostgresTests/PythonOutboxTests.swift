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

    @Test("the Python package's outbox.emit commits with the transaction; the relay stores it; a Python group consumes it")
    func packageEmit() async throws {
        let probe = try await Self.run(["-c", "import psycopg, switchyard.outbox"])
        try #require(probe.status == 0, "psycopg or the switchyard package is missing for '\(Self.python)': run the tests through scripts/test")
        try await TestDatabase.with { db in
            let channel = db.channel("pyemit")
            let emit = """
                import json, sys, psycopg
                from switchyard.outbox import emit
                ids = []
                with psycopg.connect(sys.argv[1]) as conn:
                    with conn.transaction():
                        for n in (1, 2):
                            ids.append(emit(conn, sys.argv[2], {"n": n}, metadata={"user_id": "py"}))
                    try:
                        with conn.transaction():
                            emit(conn, sys.argv[2], {"n": 99})
                            raise RuntimeError("the order was refused")
                    except RuntimeError:
                        pass
                print(json.dumps(ids))
                """
            let emitted = try await Self.run([
                "-c", emit, "postgresql://\(db.url.username)@\(db.url.host):\(db.url.port)/\(db.name)", channel.rawValue,
            ])
            try #require(emitted.status == 0, "the emit failed: \(emitted.errors)")
            let ids = (try JSONValue(parsing: emitted.output).arrayValue ?? []).compactMap(\.stringValue)
            #expect(ids.count == 2 && ids.allSatisfy { EventID($0) != nil }, "UUIDv7 ids: \(ids)")
            try await db.running(try db.relay()) {
                #expect(try await eventually(timeout: .seconds(60)) { try await db.stored(channel).count == 2 })
                try await Task.sleep(for: .milliseconds(300))
            }
            let stored = try await db.stored(channel)
            #expect(stored.map(\.eventID.description) == ids)
            #expect(stored.map { $0.data["n"]?.integer ?? -1 } == [1, 2] && stored.first?.metadata["user_id"] == "py")

            let consume = """
                import json, sys
                from switchyard import ContractRegistry, Switchyard
                sy = Switchyard.from_url(sys.argv[1], source="py_consumer", contracts=ContractRegistry([]), allow_unknown_channels=True)
                group = sy.group(sys.argv[2], group="py-readers", consumer="py-1", block=0.1)
                seen = []
                group.handler(lambda event: seen.append([event.sequence_number, event.event_id, event.data["n"]]))
                group.run(until=lambda: len(seen) == 2, timeout=20)
                print(json.dumps(seen))
                """
            let consumed = try await Self.run(["-c", consume, try TestEnvironment.value("REDIS_URL"), channel.rawValue])
            try #require(consumed.status == 0, "the Python group failed: \(consumed.errors)")
            let seen = try JSONValue(parsing: consumed.output)
            #expect(seen == .array(zip(ids, [1, 2]).enumerated().map { index, pair in [.int(Int64(index + 1)), .string(pair.0), .int(Int64(pair.1))] }))
        }
    }
}
