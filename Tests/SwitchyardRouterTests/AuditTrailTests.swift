import Foundation
import JSONSchema
import Logging
import RedisTestSupport
import ServiceLifecycle
import Switchyard
import Synchronization
import Testing

/// The audit trail as the router feeds it, in the file form (the PostgreSQL form is in
/// SwitchyardPostgresTests), and the trail's buffering.
@Suite("Audit trail")
struct AuditTrailTests {
    static func temporaryPath() -> String { NSTemporaryDirectory() + "switchyard-audit-\(UUID().uuidString).jsonl" }

    @Test("publishes, refusals, dead letters, requeues and drops are recorded with who, when and the event", arguments: EngineKind.all)
    func everything(kind: EngineKind) async throws {
        try await kind.isolated {
            let path = Self.temporaryPath()
            defer { try? FileManager.default.removeItem(atPath: path) }
            let audit = AuditTrail(file: path, logger: Logger(label: "test.audit"))
            let engine = kind.make(SystemClock(), 1_000_000)
            let keys = SignedEventsTests.ring(SignedEventsTests.k1)
            let publisher = SignedEventsTests.router(engine, keys: keys, source: "trade_executor", audit: audit)
            let channel = Fixtures.channel("test:audited")
            let started = Timestamp.now()
            let id = EventID.generate()
            let first = try await publisher.publish(to: channel, payload: Fixtures.payload(1), eventID: id)
            try await publisher.publish(to: channel, payload: Fixtures.payload(1), eventID: id)
            await #expect(throws: SwitchyardError.self) { try await publisher.publish(to: channel, payload: ["n": "one"], source: "desk") }
            _ = try await engine.append([SignedEventsTests.forged(channel, data: Fixtures.payload(2))])
            let consumed = try await SignedEventsTests.consume(engine, keys: keys, channel: channel, handled: 1, dead: 1, audit: audit)
            #expect(consumed.deadLetters.count == 1)
            let letter = try #require(consumed.deadLetters.first)
            try await publisher.requeueDeadLetters(channel, ids: [letter.id], by: "ops@desk")
            // Delivered again to the group, and refused again.
            let second = try await SignedEventsTests.consume(engine, keys: keys, channel: channel, handled: 0, dead: 1, audit: audit)
            let again = try #require(second.deadLetters.first)
            try await publisher.dropDeadLetters(channel, ids: [again.id], by: "ops@desk")

            let records = try await audit.records(matching: AuditQuery(channel: Fixtures.pattern("test:*")))
            #expect(records.map(\.action.rawValue).prefix(6) == ["publish", "publish", "refuse", "refuse", "dead_letter", "requeue"])
            #expect(records.last?.action == .drop)
            #expect(records[0].who == "trade_executor" && records[0].eventID == id && records[0].sequenceNumber == first.sequenceNumber)
            #expect(records[1].details["duplicate"] == true)
            #expect(records[2].who == "desk" && records[2].reason == "validation_error" && records[2].eventID == nil)
            #expect(records[3].who == "intruder" && records[3].reason == "unsigned_event" && records[3].details["refused_by"] == "group risk")
            #expect(records[4].who == "risk" && records[4].reason == "unsigned_event" && records[4].details["group"] == "risk")
            #expect(records[5].who == "ops@desk" && records[5].eventID == letter.envelope.eventID)
            #expect(records.last?.who == "ops@desk")
            #expect(records.allSatisfy { $0.at >= Timestamp(unixMilliseconds: started.unixMilliseconds - 1000) && $0.channel == channel.rawValue })

            // The filters of `switchyard audit`.
            #expect(try await audit.records(matching: AuditQuery(who: "ops@desk")).map(\.action) == [.requeue, .drop])
            #expect(try await audit.records(matching: AuditQuery(eventID: id)).count == 2)
            #expect(try await audit.records(matching: AuditQuery(actions: [.refuse], limit: 1)).map(\.who) == ["desk"])
            #expect(try await audit.records(matching: AuditQuery(since: Timestamp(unixMilliseconds: Timestamp.now().unixMilliseconds + 60_000))).isEmpty)
            // The file is JSON lines, one record each.
            let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
            #expect(lines.count == records.count)
            #expect(lines.allSatisfy { (try? JSONValue(parsing: Array($0.utf8)))?["action"] != nil })
        }
    }

    @Test("the trail writes in the background while it runs, and what is left when it stops")
    func runsAsAService() async throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let audit = AuditTrail(file: path, configuration: .init(flushInterval: .milliseconds(20)), logger: Logger(label: "test.audit"))
        let router = Router(
            contracts: Fixtures.contracts, engine: EmbeddedEngine(logger: Logger(label: "test")),
            configuration: RouterConfiguration(source: "svc", audit: audit), logger: Logger(label: "test"))
        let sink = AuditFile(path: path)
        let group = ServiceGroup(configuration: .init(services: [audit, router], logger: Logger(label: "test.services")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            for n in 0..<10 { try await router.publish(to: Fixtures.channel("test:bg"), payload: Fixtures.payload(n)) }
            #expect(try await eventually(timeout: .seconds(10)) { try await sink.records(matching: AuditQuery()).count == 10 }, "written without a flush")
            for n in 10..<15 { try await router.publish(to: Fixtures.channel("test:bg"), payload: Fixtures.payload(n)) }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(try await sink.records(matching: AuditQuery()).count == 15, "the last records are written on shutdown")
        #expect(audit.pendingCount == 0)
    }

    /// A sink that refuses while `failing` is set.
    final class FlakySink: AuditSink {
        let failing = Atomic<Bool>(true)
        let stored = Mutex<[AuditRecord]>([])
        func append(_ records: [AuditRecord]) async throws {
            if failing.load(ordering: .relaxed) { throw SwitchyardError(.auditUnavailable, "down") }
            stored.withLock { $0 += records }
        }
        func records(matching query: AuditQuery) async throws -> [AuditRecord] { stored.withLock { $0.filter(query.matches) } }
    }

    @Test("a sink that fails keeps the records buffered, in order; a full buffer drops new ones and counts them")
    func buffering() async throws {
        let sink = FlakySink()
        let audit = AuditTrail(sink: sink, configuration: .init(batchSize: 2, capacity: 5), logger: Logger(label: "test.audit"))
        let records = (0..<7).map { AuditRecord(at: .now(), action: .publish, who: "w\($0)") }
        audit.record(Array(records[0..<3]))
        await #expect(throws: SwitchyardError.self) { try await audit.flush() }
        #expect(audit.pendingCount == 3)
        audit.record(Array(records[3...]))
        #expect(audit.pendingCount == 5 && audit.droppedCount == 2)
        sink.failing.store(false, ordering: .relaxed)
        try await audit.flush()
        #expect(sink.stored.withLock { $0.map(\.who) } == ["w0", "w1", "w2", "w3", "w4"])
        #expect(audit.pendingCount == 0)
    }
}
