import JSONSchema
import Logging
import RedisTestSupport
import ServiceLifecycle
import Switchyard
import Testing

@Suite("Engine conformance: delivery")
struct DeliveryConformanceTests {
    @Test("concurrent handling keeps each channel's order and handles everything once", arguments: EngineKind.all)
    func concurrencyKeepsChannelOrder(kind: EngineKind) async throws {
        try await kind.isolated {
            let router = Fixtures.router(kind)
            let seen = Collector()
            let options = ConsumerOptions(batchSize: 16, concurrency: 3, blockTimeout: .milliseconds(50))
            let channels = (0..<3).map { Fixtures.channel("test:par.\($0)") }
            for channel in channels { try await router.publish(to: channel, payload: Fixtures.payload(0)) }
            try await router.withConsumer(group: "par", patterns: [Fixtures.pattern("test:par.*")], options: options, handler: { envelope in
                if envelope.sequenceNumber % 7 == 0 { await Task.yield() }
                seen.record(envelope)
            }) {
                for n in 1..<50 {
                    for channel in channels { try await router.publish(to: channel, payload: Fixtures.payload(n)) }
                }
                let all = try await eventually { seen.count == 150 }
                #expect(all)
            }
            for channel in channels {
                let numbers = seen.envelopes.filter { $0.channel == channel }.map(\.sequenceNumber)
                #expect(numbers == Array(1...50))
            }
        }
    }

    @Test("batches read ahead are handled in order, each entry once, and all acked", arguments: EngineKind.all, [1, 2])
    func readAheadKeepsOrder(kind: EngineKind, concurrency: Int) async throws {
        try await kind.isolated {
            let router = Fixtures.router(kind)
            let seen = Collector()
            let options = ConsumerOptions(batchSize: 4, concurrency: concurrency, blockTimeout: .milliseconds(50))
            let channels = (0..<2).map { Fixtures.channel("test:ahead.\($0)") }
            for n in 0..<20 {
                for channel in channels { try await router.publish(to: channel, payload: Fixtures.payload(n)) }
            }
            try await router.withConsumer(group: "ahead", patterns: [Fixtures.pattern("test:ahead.*")], options: options, handler: { envelope in
                if envelope.sequenceNumber % 3 == 0 { await Task.yield() }
                seen.record(envelope)
            }) {
                for n in 20..<40 {
                    for channel in channels { try await router.publish(to: channel, payload: Fixtures.payload(n)) }
                }
                let all = try await eventually { seen.count >= 80 }
                #expect(all)
                let acked = try await eventually {
                    var pending = 0
                    for channel in channels { pending += try await router.groupInfo("ahead", on: channel).pending }
                    return pending == 0
                }
                #expect(acked)
            }
            #expect(seen.count == 80)
            for channel in channels {
                #expect(seen.envelopes.filter { $0.channel == channel }.map(\.sequenceNumber) == Array(1...40))
            }
        }
    }

    @Test("a group started at the newest entry reads a channel that appears later from its first event", arguments: EngineKind.all)
    func newestStartReadsLaterChannelsFromTheBeginning(kind: EngineKind) async throws {
        try await kind.isolated {
            let router = Fixtures.router(kind)
            let seen = Collector()
            let options = ConsumerOptions(blockTimeout: .milliseconds(50), start: .newest)
            try await router.withConsumer(group: "late", patterns: [Fixtures.pattern("test:late.*")], options: options, handler: { envelope in
                seen.record(envelope)
            }) {
                // The consumer has looked for channels (none yet) before this runs: these appear later.
                let channel = Fixtures.channel("test:late.a")
                for n in 1...5 { try await router.publish(to: channel, payload: Fixtures.payload(n)) }
                let all = try await eventually(timeout: .seconds(20)) { seen.count >= 5 }
                #expect(all, "got \(seen.envelopes.map(\.sequenceNumber))")
            }
            #expect(seen.envelopes.map(\.sequenceNumber) == [1, 2, 3, 4, 5])
        }
    }

    @Test("the router runs as a Service and stops on graceful shutdown")
    func service() async throws {
        let router = Fixtures.router(.embedded)
        let group = ServiceGroup(configuration: .init(services: [router], logger: Logger(label: "test.services")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await router.publish(to: Fixtures.channel("test:service"), payload: Fixtures.payload(1))
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(try await router.latest(Fixtures.channel("test:service"))?.sequenceNumber == 1)
    }

    @Test("an entry whose consumers keep dying is dead-lettered by the claimer, and can be dropped", arguments: EngineKind.all)
    func crashLoopDeadLetters(kind: EngineKind) async throws {
        try await kind.isolated {
            let router = Fixtures.router(kind)
            let channel = Fixtures.channel("test:crashloop")
            let options = ConsumerOptions(
                maxDeliveries: 2, visibilityTimeout: .milliseconds(60), claimInterval: .milliseconds(15), blockTimeout: .milliseconds(30))
            try await router.publish(to: channel, payload: Fixtures.payload(1))
            let calls = SharedInt()
            for consumer in ["a", "b"] {
                let before = calls.value
                try await router.withConsumer(group: "crashy", patterns: [Fixtures.pattern("test:crashloop")], consumer: consumer, options: options, handler: { _ in
                    calls.increment()
                    await suspendUntilCancelled()
                    throw CancellationError()
                }) {
                    let progressed = try await eventually {
                        if calls.value > before { return true }
                        return try await router.deadLetters(channel).count == 1
                    }
                    #expect(progressed)
                }
            }
            try await router.withConsumer(group: "crashy", patterns: [Fixtures.pattern("test:crashloop")], consumer: "c", options: options, handler: { _ in
                calls.increment()
            }) {
                let deadLettered = try await eventually { try await router.deadLetters(channel).count == 1 }
                #expect(deadLettered)
            }
            #expect((1...2).contains(calls.value), "a consumer that was slow to die may have reclaimed its own entry, using up a delivery")
            let letter = try #require(try await router.deadLetters(channel).first)
            #expect(letter.deliveries >= 3)
            #expect(letter.error["error_type"] == "processing_error")
            #expect(letter.error["details"]?["error_type"] == "handler_error")
            #expect(letter.error["original_message"]?["event_id"] == .string(letter.envelope.eventID.description))
            #expect(letter.error["retry_count"] == .int(Int64(letter.deliveries - 1)))
            #expect(try await router.groupInfo("crashy", on: channel).pending == 0)
            #expect(try await router.dropDeadLetters(channel, ids: [letter.id]) == 1)
            #expect(try await router.deadLetters(channel).isEmpty)
        }
    }

}
