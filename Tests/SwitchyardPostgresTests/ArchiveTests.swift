import Foundation
import JSONSchema
import NIOCore
import PostgresNIO
import RESP
import RedisClient
import RedisTestSupport
import Switchyard
import SwitchyardPostgres
import SwitchyardRedis
import Testing

/// A Redis command given as words, for changes behind the engine's back.
struct RawCommand: RedisCommand {
    typealias Response = RESPValue
    var words: [String]
    init(_ words: String...) { self.words = words }
    func encode(into encoder: inout RESPCommandEncoder) {
        encoder.encodeArrayHeader(count: words.count)
        for word in words { encoder.encodeBulk(word) }
    }
}

@Suite("PostgreSQL: archive, tiered replay, reconcile", .needs(.redis, .postgres))
struct ArchiveTests {
    /// Emits `count` events through the outbox and relays them.
    static func relayed(_ db: TestDatabase, _ channel: ChannelName, count: Int) async throws {
        for n in 1...count {
            try await db.outbox.withTransaction { tx in try await tx.emit(to: channel, payload: ["n": .int(Int64(n))]) }
        }
        try await db.running(try db.relay()) { () async throws in
            #expect(try await eventually(timeout: .seconds(60)) { try await db.count("SELECT count(*)::int8 FROM switchyard.outbox") == 0 })
        }
    }

    @Test("replay continues from the archive into Redis with the same envelopes, no gap and no duplicate at the seam")
    func tieredReplay() async throws {
        try await TestDatabase.with { db in
            let channel = db.channel("tiers")
            try await Self.relayed(db, channel, count: 30)
            let everything = try await db.stored(channel)
            #expect(everything.count == 30)
            let redis = try RedisClient(configuration: try TestEnvironment.configuration(), logger: db.logger)
            _ = try await redis.execute(RawCommand("XTRIM", "stream:{\(channel.rawValue)}", "MAXLEN", "=", "12"))
            #expect(try await db.router.info(channel).firstSequenceNumber == 19)

            let archive = Archive(client: db.client, logger: db.logger)
            #expect(try await archive.replay(channel, through: db.router) == everything)
            #expect(try await archive.replay(channel, through: db.router, since: .sequence(10)) == Array(everything[9...]))
            #expect(try await archive.replay(channel, through: db.router, since: .sequence(10), until: .sequence(25)) == Array(everything[9..<25]))
            #expect(try await archive.replay(channel, through: db.router, since: .sequence(5), limit: 20) == Array(everything[4..<24]))
            #expect(try await archive.replay(channel, through: db.router, since: .sequence(20)) == Array(everything[19...]))
            let time = everything[14].timestamp
            let byTime = try await archive.replay(channel, through: db.router, since: .time(time))
            #expect(byTime == everything.filter { $0.timestamp >= time })
        }
    }

    /// On one server and on the cluster (one node's URL): the reconciler's reads and the repair's
    /// dedup-mark deletions keep to one channel's slot.
    @Test(
        "reconcile finds an event deleted from Redis by hand, and repair puts it back",
        arguments: ["REDIS_URL"] + (TestServer.areRequired || TestServer.cluster.isConfigured ? ["REDIS_CLUSTER_URL"] : []))
    func reconcile(redisVariable: String) async throws {
        try await TestDatabase.with(redisVariable: redisVariable) { db in
            let channel = db.channel("reconcile")
            let start = Timestamp.now()
            try await Self.relayed(db, channel, count: 10)
            let before = try await db.stored(channel)
            let redis = try RedisClient(configuration: try TestEnvironment.configuration(redisVariable), logger: db.logger)
            let entries = try await redis.execute(RawCommand("XRANGE", "stream:{\(channel.rawValue)}", "-", "+"))
            let fifthID = try #require(entries.elements?[4].elements?[0].string)
            _ = try await redis.execute(RawCommand("XDEL", "stream:{\(channel.rawValue)}", fifthID))

            let reconciler = Reconciler(archive: Archive(client: db.client, logger: db.logger), router: db.router)
            let report = try await reconciler.compare(channel, from: start, to: .now())
            #expect(report.missingInEngine.map(\.eventID) == [before[4].eventID])
            #expect(report.missingInArchive.isEmpty && report.matched == 9)

            let receipts = try await reconciler.repair(report) { ids, channel in try await db.engine.forgetDedupMarks(ids, on: channel) }
            #expect(receipts.count == 1 && receipts.first?.duplicate == false && receipts.first?.eventID == before[4].eventID)
            let after = try await db.stored(channel)
            #expect(after.map(\.eventID) == before.map(\.eventID).enumerated().filter { $0.offset != 4 }.map(\.element) + [before[4].eventID])
            #expect(after.last?.data == before[4].data)
            let again = try await reconciler.compare(channel, from: start, to: .now())
            #expect(again.missingInEngine.isEmpty && again.missingInArchive.isEmpty && again.matched == 10, "the archive follows the repair")
        }
    }
}
