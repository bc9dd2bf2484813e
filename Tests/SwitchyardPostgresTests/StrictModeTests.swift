import JSONSchema
import RedisTestSupport
import Switchyard
import SwitchyardPostgres
import RedisTestSupport
import Testing

@Suite("PostgreSQL: strict mode as serve runs it", .needs(.postgres))
struct StrictModeTests {
    @Test("publishes go through the outbox and answer with the receipt of the event the relay stored")
    func publishThroughTheOutbox() async throws {
        try await TestDatabase.with { db in
            let strict = try StrictMode(
                url: db.url, router: db.router, relayConfiguration: Relay.Configuration(pollInterval: .milliseconds(50)), logger: db.logger)
            let channel = db.channel("strict")
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await strict.run() }
                defer { group.cancelAll() }
                #expect(try await eventually(timeout: .seconds(60)) { await strict.isReady() })
                let receipts = try await strict.publish([
                    PublishRequest(channel: channel, payload: ["n": 1]), PublishRequest(channel: channel, payload: ["n": 2]),
                ])
                #expect(receipts.map(\.sequenceNumber) == [1, 2] && receipts.allSatisfy { !$0.duplicate })
                let stored = try await db.stored(channel)
                #expect(stored.map(\.eventID) == receipts.map(\.eventID))
                #expect(stored.map(\.timestamp) == receipts.map(\.timestamp))

                let again = try await strict.publish([PublishRequest(channel: channel, payload: ["n": 1], eventID: receipts[0].eventID)])
                #expect(again.first?.sequenceNumber == 1 && again.first?.duplicate == true, "the same event id answers with the first receipt")

                let refused = await #expect(throws: SwitchyardError.self) {
                    try await strict.publish([PublishRequest(channel: channel, payload: ["n": 3]), PublishRequest(channel: channel, payload: ["n": "x"])])
                }
                #expect(refused?.code == .validationError && refused?.details["index"] == 1)
                #expect(try await eventually(timeout: .seconds(60)) { try await db.count("SELECT count(*)::int8 FROM switchyard.outbox") == 0 })
                #expect(try await db.stored(channel).count == 2, "a refused batch publishes nothing")
            }
        }
    }
}
