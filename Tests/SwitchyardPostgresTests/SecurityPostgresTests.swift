import Foundation
import JSONSchema
import Logging
import PostgresNIO
import RedisTestSupport
import Switchyard
import SwitchyardPostgres
import Testing

/// The audit trail in `switchyard.audit`, and sealed fields through the outbox into the archive.
@Suite("PostgreSQL: audit trail and sealed fields", .needs(.postgres))
struct SecurityPostgresTests {
    @Test("publishes and refusals go to switchyard.audit, which refuses UPDATE, DELETE and TRUNCATE")
    func auditTable() async throws {
        try await TestDatabase.with { db in
            let audit = AuditTrail(sink: PostgresAuditSink(client: db.client, logger: db.logger), logger: db.logger)
            let router = Router(
                contracts: TestDatabase.contracts, engine: db.engine,
                configuration: RouterConfiguration(source: "pg-audit", enforcesRateLimits: false, audit: audit), logger: db.logger)
            let channel = db.channel("audited")
            let first = try await router.publish(to: channel, payload: ["n": 1])
            try await router.publish(to: channel, payload: ["n": 2], source: "trade_executor")
            await #expect(throws: SwitchyardError.self) { try await router.publish(to: channel, payload: ["n": "three"], source: "desk") }
            try await audit.flush()
            #expect(try await db.count("SELECT count(*)::int8 FROM switchyard.audit") == 3)

            let all = try await audit.records(matching: AuditQuery(channel: try ChannelPattern("test:\(db.prefix).*")))
            #expect(all.map(\.action) == [.publish, .publish, .refuse])
            #expect(all.map(\.who) == ["pg-audit", "trade_executor", "desk"])
            #expect(all[0].eventID == first.eventID && all[0].sequenceNumber == 1 && all[0].channel == channel.rawValue)
            #expect(all[2].reason == "validation_error" && all[2].details["message"] != nil)
            #expect(all[0].at <= all[1].at && all[1].at <= all[2].at)
            #expect(try await audit.records(matching: AuditQuery(who: "desk")).count == 1)
            #expect(try await audit.records(matching: AuditQuery(eventID: first.eventID)).count == 1)
            #expect(try await audit.records(matching: AuditQuery(channel: try ChannelPattern(channel.rawValue), actions: [.refuse])).count == 1)
            #expect(try await audit.records(matching: AuditQuery(since: Timestamp(unixMilliseconds: Timestamp.now().unixMilliseconds + 60_000))).isEmpty)
            #expect(try await audit.records(matching: AuditQuery(limit: 2)).count == 2)

            for statement in ["UPDATE switchyard.audit SET who = 'someone'", "DELETE FROM switchyard.audit", "TRUNCATE switchyard.audit"] {
                await #expect(throws: (any Error).self, "\(statement)") {
                    try await db.client.query(PostgresQuery(unsafeSQL: statement))
                }
            }
            #expect(try await db.count("SELECT count(*)::int8 FROM switchyard.audit WHERE who = 'desk'") == 1)
        }
    }

    @Test("switchyard audit --postgres reads the table")
    func auditCommand() async throws {
        try await TestDatabase.with { db in
            let sink = PostgresAuditSink(client: db.client, logger: db.logger)
            let id = EventID.generate()
            try await sink.append([
                AuditRecord(at: .now(), action: .publish, who: "trade_executor", channel: "trades:order_filled", eventID: id, sequenceNumber: 7),
                AuditRecord(at: .now(), action: .refuse, who: "quote-feed", channel: "trades:order_filled", reason: "forbidden"),
            ])
            let url = "postgres://\(db.url.username)@\(db.url.host):\(db.url.port)/\(db.name)"
            let output = try await runProcess(PackageRoot.binary, ["audit", "--postgres", url, "--json", "--who", "trade_executor"])
            #expect(output.status == 0, "\(output.errors)")
            let records = output.output.split(separator: "\n").compactMap { try? JSONValue(parsing: String($0)) }
            #expect(records.count == 1 && records.first?["event_id"] == .string(id.description) && records.first?["sequence_number"] == 7)
            let table = try await runProcess(PackageRoot.binary, ["audit", "--postgres", url, "--channel", "trades:*", "--action", "refuse"])
            let rows: [[String]] = table.output.split(separator: "\n").map { line in line.split(separator: "\t").map(String.init) }
            let who: [String] = rows.map { $0.count > 2 ? $0[2] : "" }
            #expect(who == ["quote-feed"])
        }
    }

    @Test("sealed fields: the outbox row is relayed sealed, and the archive never holds the clear value")
    func sealedArchive() async throws {
        try await TestDatabase.with { db in
            let schema: JSONValue = [
                "type": "object", "required": ["n", "account"],
                "properties": ["n": ["type": "integer"], "account": ["type": "string", "pattern": "^ACC-"]],
            ]
            let contracts = try ContractRegistry([
                try Contract(
                    channel: try ChannelPattern("test:*"), schema: schema, policy: ChannelPolicy(retentionSeconds: 3600),
                    sensitiveFields: [try SensitiveField("account")])
            ])
            let key = try SecretKey(id: "pg-e1", secret: Array(repeating: 0x70, count: 32))
            let keys = try KeyRing([key], purpose: .encryption)
            let router = Router(
                contracts: contracts, engine: db.engine,
                configuration: RouterConfiguration(source: "pg-sealed", enforcesRateLimits: false, encryptionKeys: keys), logger: db.logger)
            let relay = Relay(
                postgres: try db.url.connectionConfiguration(), router: router,
                configuration: Relay.Configuration(pollInterval: .milliseconds(50), retryDelay: .milliseconds(100)), logger: db.logger)
            let channel = db.channel("sealed")
            let secret = "ACC-ARCHIVE-SECRET-42"
            let outbox = Outbox(client: db.client, contracts: contracts, logger: db.logger)
            try await outbox.withTransaction { tx in try await tx.emit(to: channel, payload: ["n": 1, "account": .string(secret)]) }
            // The schema is checked in clear, before anything is sealed.
            await #expect(throws: SwitchyardError.self) {
                try await outbox.withTransaction { tx in try await tx.emit(to: channel, payload: ["n": 2, "account": "nope"]) }
            }
            try await db.running(relay) { () async throws in
                #expect(try await eventually(timeout: .seconds(60)) { try await db.count("SELECT count(*)::int8 FROM switchyard.archive WHERE channel = '\(channel.rawValue)'") == 1 })
            }
            for try await (payload, metadata, envelope) in try await db.client.query(
                "SELECT payload::text, metadata::text, envelope FROM switchyard.archive WHERE channel = \(channel.rawValue)"
            ).decode((String, String, String).self) {
                #expect(!payload.contains(secret) && !metadata.contains(secret) && !envelope.contains(secret), "the archive holds the clear value")
                #expect(payload.contains("AES-256-GCM") && metadata.contains("sealed_fields"))
            }
            let archived = try #require(try await Archive(client: db.client, logger: db.logger).events(channel).first)
            #expect(archived.data["account"]?["key_id"] == "pg-e1")
            #expect(try router.verifyAndUnseal(archived).data["account"] == .string(secret), "a reader with the key opens the archived event")
            let stored = try #require(try await db.engine.latest(channel))
            #expect(!stored.encoded().contains(secret))
        }
    }
}
