import Foundation
import KafkaClient
import RedisTestSupport
import Testing

@Suite("Failures", .needs(.kafka))
struct KafkaFailureTests {
    @Test("sends to a broker that is gone fail within message.timeout.ms, each one reported")
    func brokerGone() async throws {
        let broker = try await PrivateBroker()
        let configuration = try KafkaConfiguration(url: broker.url)
        do {
            let admin = try KafkaAdmin(configuration: configuration)
            try await admin.createTopics([KafkaTopicSpec(name: "gone")], timeout: .seconds(10))
            admin.close()
            var settings = configuration
            settings.properties["message.timeout.ms"] = "3000"
            let producer = try KafkaProducer(configuration: settings)
            defer { producer.close() }
            let stored = try await producer.send((0..<5).map { KafkaOutgoingRecord(topic: "gone", value: KafkaTest.bytes("\($0)")) })
            #expect(stored.map(\.offset) == [0, 1, 2, 3, 4])

            await broker.killAndWait()
            let started = ContinuousClock.now
            // Several sends at once: every one must end, and none may report a record stored.
            let outcomes = await withTaskGroup(of: Result<[KafkaDelivery], KafkaError>.self) { group in
                for batch in 0..<4 {
                    group.addTask {
                        do throws(KafkaError) {
                            return .success(try await producer.send((0..<25).map { KafkaOutgoingRecord(topic: "gone", value: KafkaTest.bytes("\(batch)-\($0)")) }))
                        } catch {
                            return .failure(error)
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            let elapsed = ContinuousClock.now - started
            #expect(outcomes.count == 4)
            for outcome in outcomes {
                guard case .failure(let error) = outcome else {
                    Issue.record("a send to a dead broker reported its records stored")
                    continue
                }
                #expect(error.code == KafkaError.messageTimedOut, "\(error)")
                #expect(error.message.contains("was not stored"))
            }
            #expect(elapsed < .seconds(15), "the sends took \(elapsed)")
            // Nothing is left waiting in the producer.
            try await producer.flush(timeout: .seconds(5))
        } catch {
            broker.kill()
            throw error
        }
    }

    @Test("an unreachable bootstrap address gives an error that names the connection failure")
    func unreachable() async throws {
        let port = try freeLoopbackPort()
        var configuration = try KafkaConfiguration(url: "kafka://127.0.0.1:\(port)")
        configuration.properties["message.timeout.ms"] = "2000"
        let admin = try KafkaAdmin(configuration: configuration)
        defer { admin.close() }
        let started = ContinuousClock.now
        let error = await #expect(throws: KafkaError.self) { try await admin.topics(timeout: .seconds(2)) }
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(error?.message.contains("127.0.0.1:\(port)") == true, "\(String(describing: error))")
        #expect(error?.message.contains("refused") == true, "\(String(describing: error))")

        let producer = try KafkaProducer(configuration: configuration)
        defer { producer.close() }
        let sendError = await #expect(throws: KafkaError.self) {
            try await producer.send([KafkaOutgoingRecord(topic: "nowhere", value: KafkaTest.bytes("x"))])
        }
        #expect(sendError?.code == KafkaError.messageTimedOut, "\(String(describing: sendError))")
        #expect(sendError?.message.contains("refused") == true, "\(String(describing: sendError))")
    }

    @Test("a producer closed with sends waiting fails them and refuses new ones")
    func closeWhileWaiting() async throws {
        let port = try freeLoopbackPort()
        var configuration = try KafkaConfiguration(url: "kafka://127.0.0.1:\(port)")
        configuration.properties["message.timeout.ms"] = "60000"
        let producer = try KafkaProducer(configuration: configuration)
        let waiting = Task { try await producer.send([KafkaOutgoingRecord(topic: "nowhere", value: KafkaTest.bytes("x"))]) }
        try await Task.sleep(for: .milliseconds(300))
        producer.close()
        let started = ContinuousClock.now
        await #expect(throws: KafkaError.self) { _ = try await waiting.value }
        #expect(ContinuousClock.now - started < .seconds(10))
        let error = await #expect(throws: KafkaError.self) { try await producer.send([KafkaOutgoingRecord(topic: "nowhere", value: nil)]) }
        #expect(error?.code == KafkaError.closed)
    }
}
