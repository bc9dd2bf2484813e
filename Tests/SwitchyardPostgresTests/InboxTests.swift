import Foundation
import JSONSchema
import PostgresNIO
import RedisTestSupport
import Switchyard
import SwitchyardPostgres
import Synchronization
import RedisTestSupport
import Testing

@Suite("PostgreSQL: inbox", .needs(.redis, .postgres))
struct InboxTests {
    @Test("forced redeliveries run the handler's effects exactly once")
    func exactlyOnce() async throws {
        try await TestDatabase.with { db in
            try await db.client.query("CREATE TABLE ledger (n int8 NOT NULL)")
            let channel = db.channel("ledger")
            let inbox = Inbox(client: db.client, logger: db.logger)
            for n in 1...20 { try await db.router.publish(to: channel, payload: ["n": .int(Int64(n))]) }
            let events = try await db.stored(channel)

            // Every event delivered three times, two of the deliveries at once.
            let ran = SharedCounter()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for envelope in events + events {
                    group.addTask {
                        try await inbox.process(envelope, group: "ledger") { envelope, connection in
                            ran.next()
                            try await connection.query("INSERT INTO ledger VALUES (\(envelope.data["n"]?.integer ?? -1))", logger: db.logger)
                        }
                    }
                }
                try await group.waitForAll()
            }
            for envelope in events {
                #expect(try await inbox.process(envelope, group: "ledger") { _, _ in Issue.record("an event already processed ran again") } == false)
            }
            #expect(ran.value == 20)
            #expect(try await db.count("SELECT count(DISTINCT n)::int8 FROM ledger") == 20)
            #expect(try await db.count("SELECT count(*)::int8 FROM ledger") == 20)

            // A handler that fails leaves no inbox row, so the redelivery runs it.
            struct Failure: Error {}
            let failing = try await db.router.publish(to: channel, payload: ["n": 21])
            let envelope = try #require(try await db.stored(channel).first { $0.eventID == failing.eventID })
            await #expect(throws: Failure.self) {
                try await inbox.process(envelope, group: "ledger") { envelope, connection in
                    try await connection.query("INSERT INTO ledger VALUES (21)", logger: db.logger)
                    throw Failure()
                }
            }
            #expect(try await inbox.process(envelope, group: "ledger") { _, connection in
                try await connection.query("INSERT INTO ledger VALUES (21)", logger: db.logger)
            })
            #expect(try await db.count("SELECT count(*)::int8 FROM ledger WHERE n = 21") == 1)
        }
    }

    @Test("a consumer group with the inbox: the effects of redelivered events happen once")
    func consumerGroup() async throws {
        try await TestDatabase.with { db in
            try await db.client.query("CREATE TABLE seen (n int8 NOT NULL)")
            let channel = db.channel("group")
            let inbox = Inbox(client: db.client, logger: db.logger)
            for n in 1...10 { try await db.router.publish(to: channel, payload: ["n": .int(Int64(n))]) }
            let attempts = Shared<[Int64: Int]>([:])
            let options = ConsumerOptions(backoff: .init(initial: .milliseconds(10)), blockTimeout: .milliseconds(200))
            try await db.router.withConsumer(
                group: "g", patterns: [try ChannelPattern(channel.rawValue)], options: options,
                handler: { envelope in
                    let n = envelope.data["n"]?.integer ?? -1
                    try await inbox.process(envelope, group: "g") { _, connection in
                        try await connection.query("INSERT INTO seen VALUES (\(n))", logger: db.logger)
                    }
                    // The effect has committed; failing now loses the ack, so the event is delivered again.
                    let first = attempts.withLock { attempts in
                        attempts[n, default: 0] += 1
                        return attempts[n] == 1
                    }
                    if first && n.isMultiple(of: 2) { throw RedeliverAfterCommit() }
                }
            ) { () async throws in
                #expect(try await eventually(timeout: .seconds(60)) {
                    attempts.withLock { attempts in attempts.count == 10 && attempts.filter { $0.key.isMultiple(of: 2) }.allSatisfy { $0.value >= 2 } }
                })
            }
            #expect(try await db.count("SELECT count(*)::int8 FROM seen") == 10)
        }
    }
}

struct RedeliverAfterCommit: Error {}
