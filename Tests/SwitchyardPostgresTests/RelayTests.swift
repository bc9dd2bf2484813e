import Foundation
import JSONSchema
import PostgresNIO
import RedisTestSupport
import Switchyard
import SwitchyardPostgres
import Synchronization
import RedisTestSupport
import Testing

@Suite("PostgreSQL: relay", .needs(.redis, .postgres))
struct RelayTests {
    @Test("an invalid row inserted with plain SQL is quarantined with its validation_error; the rows behind it are published")
    func quarantine() async throws {
        try await TestDatabase.with { db in
            let channel = db.channel("sql")
            try await db.client.withConnection { connection in
                try await connection.query("BEGIN", logger: db.logger)
                for (index, payload) in [#"{"n":1}"#, #"{"n":"two"}"#, #"{"n":3}"#, #"[4]"#, #"{"n":5}"#].enumerated() {
                    let name = index == 3 ? "Not A Channel!" : channel.rawValue
                    try await connection.query(
                        "INSERT INTO switchyard.outbox (channel, payload) VALUES (\(name), \(payload)::jsonb)", logger: db.logger)
                }
                try await connection.query("COMMIT", logger: db.logger)
            }
            try await db.running(try db.relay()) { () async throws in
                #expect(try await eventually(timeout: .seconds(60)) { try await db.count("SELECT count(*)::int8 FROM switchyard.outbox") == 0 })
            }
            #expect(try await db.stored(channel).map { $0.data["n"] } == [1, 3, 5])
            var errors: [String: JSONValue] = [:]
            for try await (payload, error) in try await db.client.query(
                "SELECT payload::text, error::text FROM switchyard.quarantine ORDER BY outbox_id"
            ).decode((String, String).self) {
                errors[payload] = try JSONValue(parsing: error)
            }
            #expect(errors.count == 2)
            #expect(errors[#"{"n": "two"}"#]?["error_type"] == "validation_error")
            #expect(errors[#"{"n": "two"}"#]?["details"]?["invalid_fields"]?["n"] != nil)
            #expect(errors["[4]"]?["error_type"] == "invalid_channel")
        }
    }

    @Test("a row whose metadata breaks the rules (a credential, too large) is quarantined; the relay goes on with the rows behind it")
    func badMetadataIsQuarantined() async throws {
        try await TestDatabase.with { db in
            let channel = db.channel("meta")
            let big = String(repeating: "m", count: PayloadGuard.maxMetadataBytes + 1)
            try await db.client.withConnection { connection in
                for (n, metadata) in [(1, #"{"session":"s-1"}"#), (2, #"{"user":{"api_key":"k"}}"#), (3, #"{"note":"\#(big)"}"#), (4, "{}")] {
                    try await connection.query(
                        "INSERT INTO switchyard.outbox (channel, payload, metadata) VALUES (\(channel.rawValue), \(#"{"n":\#(n)}"#)::jsonb, \(metadata)::jsonb)",
                        logger: db.logger)
                }
            }
            try await db.running(try db.relay()) { () async throws in
                #expect(try await eventually(timeout: .seconds(60)) { try await db.count("SELECT count(*)::int8 FROM switchyard.outbox") == 0 })
            }
            #expect(try await db.stored(channel).map { $0.data["n"] } == [1, 4])
            var errors: [String] = []
            for try await error in try await db.client.query("SELECT error::text FROM switchyard.quarantine ORDER BY outbox_id").decode(String.self) {
                errors.append(try JSONValue(parsing: error)["error_type"]?.stringValue ?? "?")
            }
            #expect(errors == ["validation_error", "payload_too_large"])
        }
    }

    @Test("the writer's source column is the envelope's source; a row without one takes the relay's")
    func source() async throws {
        try await TestDatabase.with { db in
            let channel = db.channel("src")
            try await db.client.query(
                "INSERT INTO switchyard.outbox (channel, payload, source) VALUES (\(channel.rawValue), '{\"n\":1}', 'py_pricer')")
            try await db.outbox.withTransaction { tx in try await tx.emit(to: channel, payload: ["n": 2], source: "trade_executor") }
            try await db.client.query("INSERT INTO switchyard.outbox (channel, payload) VALUES (\(channel.rawValue), '{\"n\":3}')")
            try await db.running(try db.relay()) { () async throws in
                #expect(try await eventually(timeout: .seconds(60)) { try await db.count("SELECT count(*)::int8 FROM switchyard.outbox") == 0 })
            }
            let stored = try await db.stored(channel)
            #expect(stored.map(\.source) == ["py_pricer", "trade_executor", db.router.configuration.source])
            var archived: [String] = []
            for try await source in try await db.client.query(
                "SELECT source FROM switchyard.archive WHERE channel = \(channel.rawValue) ORDER BY sequence_number"
            ).decode(String.self) {
                archived.append(source)
            }
            #expect(archived == stored.map(\.source))
        }
    }

    @Test("a whole REC.IO message written to the outbox keeps its timestamp as event_time and its metadata, from Swift and from plain SQL")
    func wholeMessage() async throws {
        try await TestDatabase.with { db in
            let channel = db.channel("whole")
            let message: JSONValue = [
                "topic": .string(channel.rawValue), "timestamp": "2025-01-27T10:30:05Z", "data": ["n": 1], "metadata": ["user_id": "user_0001"],
            ]
            try await db.outbox.withTransaction { tx in try await tx.emit(to: channel, payload: message) }
            guard case .object(var second) = message else { return }
            second["data"] = ["n": 2]
            let text = JSONValue.object(second).serialized()
            try await db.client.query("INSERT INTO switchyard.outbox (channel, payload) VALUES (\(channel.rawValue), \(text)::jsonb)")
            let refused = await #expect(throws: SwitchyardError.self) {
                try await db.outbox.withTransaction { tx in
                    try await tx.emit(to: channel, payload: ["topic": .string(channel.rawValue), "metadata": [:]])
                }
            }
            #expect(refused?.details["missing_fields"] == ["timestamp", "data"])
            try await db.running(try db.relay()) { () async throws in
                #expect(try await eventually(timeout: .seconds(60)) { try await db.count("SELECT count(*)::int8 FROM switchyard.outbox") == 0 })
            }
            let stored = try await db.stored(channel)
            #expect(stored.map(\.data) == [["n": 1], ["n": 2]])
            #expect(stored.map(\.eventTime) == ["2025-01-27T10:30:05Z", "2025-01-27T10:30:05Z"])
            #expect(stored.allSatisfy { $0.metadata["user_id"] == "user_0001" })
        }
    }

    @Test("a transaction that commits late is neither skipped nor overtaken by a later one")
    func lateCommit() async throws {
        try await TestDatabase.with { db in
            let channel = db.channel("late")
            try await db.running(try db.relay()) {
                try await db.client.withConnection { early in
                    try await early.query("BEGIN", logger: db.logger)
                    try await early.query(
                        "INSERT INTO switchyard.outbox (channel, payload) VALUES (\(channel.rawValue), '{\"n\":1}')", logger: db.logger)
                    try await db.outbox.withTransaction { tx in try await tx.emit(to: channel, payload: ["n": 2]) }
                    // A window in which the relay must not move: nothing happens to await.
                    try await Task.sleep(for: .milliseconds(500))
                    #expect(try await db.stored(channel).isEmpty, "the later transaction waits for the earlier one")
                    try await early.query("COMMIT", logger: db.logger)
                }
                #expect(try await eventually(timeout: .seconds(60)) { try await db.stored(channel).count == 2 })
            }
            #expect(try await db.stored(channel).map { $0.data["n"] } == [1, 2])
        }
    }

    @Test("16 connections with interleaved commits: per channel, Redis holds the committed rows in transaction order")
    func interleavedWriters() async throws {
        try await TestDatabase.with { db in
            let channels = (0..<4).map { db.channel("c\($0)") }
            struct Written: Sendable { var xid: UInt64; var began: ContinuousClock.Instant; var committed: ContinuousClock.Instant; var ns: [Int64]; var channel: Int }
            let written = Shared<[Written]>([])
            let counter = SharedCounter()
            try await db.running(try db.relay(Relay.Configuration(batchSize: 37, pollInterval: .milliseconds(20)))) {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for writer in 0..<16 {
                        group.addTask {
                            try await db.client.withConnection { connection in
                                for round in 0..<25 {
                                    let channelIndex = (writer + round) % channels.count
                                    let began = ContinuousClock.now
                                    try await connection.query("BEGIN", logger: db.logger)
                                    var ns: [Int64] = []
                                    var xid: UInt64 = 0
                                    for _ in 0..<(1 + round % 3) {
                                        let n = counter.next()
                                        ns.append(n)
                                        let payload = #"{"n":\#(n),"writer":\#(writer)}"#
                                        let rows = try await connection.query(
                                            """
                                            INSERT INTO switchyard.outbox (channel, payload)
                                            VALUES (\(channels[channelIndex].rawValue), \(payload)::jsonb) RETURNING xid::text
                                            """, logger: db.logger)
                                        for try await text in rows.decode(String.self) { xid = UInt64(text)! }
                                    }
                                    // Random time inside the transaction, so commits interleave.
                                    try await Task.sleep(for: .milliseconds(Int.random(in: 0...15)))
                                    if round % 7 == 3 {
                                        try await connection.query("ROLLBACK", logger: db.logger)
                                        continue
                                    }
                                    try await connection.query("COMMIT", logger: db.logger)
                                    let entry = Written(xid: xid, began: began, committed: .now, ns: ns, channel: channelIndex)
                                    written.withLock { $0.append(entry) }
                                }
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                let expected = written.withLock { $0.reduce(0) { $0 + $1.ns.count } }
                #expect(try await eventually(timeout: .seconds(120)) {
                    var total = 0
                    for channel in channels { total += try await db.stored(channel).count }
                    return total == expected
                })
            }
            let transactions = written.withLock { $0 }
            for (index, channel) in channels.enumerated() {
                let stored = try await db.stored(channel)
                expectGapFreeAndUnique(stored)
                let mine = transactions.filter { $0.channel == index }.sorted { $0.xid < $1.xid }
                #expect(stored.map { $0.data["n"]?.integer ?? -1 } == mine.flatMap(\.ns), "transaction order, rows of one transaction together")
                let position = Dictionary(uniqueKeysWithValues: stored.enumerated().map { ($0.element.data["n"]?.integer ?? -1, $0.offset) })
                for a in mine {
                    for b in mine where a.committed < b.began {
                        #expect(position[a.ns[0]]! < position[b.ns[0]]!, "a transaction committed before another began is published first")
                    }
                }
            }
        }
    }

    @Test("a relay cancelled mid-batch, again and again, loses nothing and duplicates nothing; two relays at once publish once")
    func cancelledMidBatch() async throws {
        try await TestDatabase.with { db in
            let channel = db.channel("cancel")
            let total = 600
            try await db.outbox.withTransaction { tx in
                for n in 1...total { try await tx.emit(to: channel, payload: ["n": .int(Int64(n))]) }
            }
            for round in 0..<8 {
                let relay = try db.relay(Relay.Configuration(batchSize: 25 + round))
                let task = Task { try await relay.run() }
                // The relay is stopped at a random point of its work.
                try await Task.sleep(for: .milliseconds(Int.random(in: 20...150)))
                task.cancel()
                _ = try? await task.value
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<2 {
                    let relay = try db.relay(Relay.Configuration(batchSize: 50, standbyInterval: .milliseconds(50)))
                    group.addTask { try await relay.run() }
                }
                #expect(try await eventually(timeout: .seconds(60)) { try await db.count("SELECT count(*)::int8 FROM switchyard.outbox") == 0 })
                group.cancelAll()
            }
            let stored = try await db.stored(channel)
            #expect(stored.count == total)
            #expect(stored.map { $0.data["n"]?.integer ?? -1 } == (1...Int64(total)).map { $0 })
            expectGapFreeAndUnique(stored)
            #expect(try await db.count("SELECT count(*)::int8 FROM switchyard.archive") == total)
        }
    }
}
