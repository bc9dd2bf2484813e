import JSONSchema
import Switchyard
import Synchronization
import Testing

@Suite("Backtest mode")
struct BacktestTests {
    /// Publishes a fixed scenario on a fresh backtest router and returns everything observable.
    private func runScenario() async throws -> (handled: [String], receipts: [PublishReceipt], deadLetters: [DeadLetter]) {
        let clock = ManualClock()
        let router = Fixtures.router(.embedded, clock: clock, mode: .backtest, seed: 42)
        let handled = Lines()
        let options = ConsumerOptions(maxDeliveries: 2)
        var receipts: [PublishReceipt] = []
        try await router.withConsumer(group: "strategy", patterns: [Fixtures.pattern("test:bt.*")], options: options, handler: { envelope in
            if envelope.data["n"] == .int(7) { throw SwitchyardError(.handlerError, "seven") }
            handled.append("strategy " + envelope.encoded())
        }) {
            try await router.withConsumer(group: "risk", patterns: [Fixtures.pattern("test:bt.prices")], handler: { envelope in
                handled.append("risk \(envelope.channel) \(envelope.sequenceNumber)")
            }) {
                for n in 0..<50 {
                    let channel = Fixtures.channel(n.isMultiple(of: 3) ? "test:bt.orders" : "test:bt.prices")
                    let before = handled.count
                    receipts.append(try await router.publish(to: channel, payload: Fixtures.payload(n)))
                    let after = handled.count
                    let expected = n == 7 ? (channel.rawValue == "test:bt.prices" ? 1 : 0) : (channel.rawValue == "test:bt.prices" ? 2 : 1)
                    #expect(after - before == expected, "handlers ran before publish returned (n = \(n))")
                    clock.advance(by: .milliseconds(n % 4))
                }
            }
        }
        let letters = try await router.deadLetters(Fixtures.channel("test:bt.prices"))
        return (handled.all, receipts, letters)
    }

    @Test("same inputs give identical outputs; handlers run before publish returns")
    func determinism() async throws {
        let first = try await runScenario()
        let second = try await runScenario()
        #expect(first.handled.count == 49 + 33)
        #expect(first.handled == second.handled)
        #expect(first.receipts == second.receipts)
        #expect(first.deadLetters == second.deadLetters)
        #expect(first.deadLetters.count == 1)
        #expect(first.deadLetters.first?.deliveries == 2)
        #expect(first.receipts.map(\.streamID.rawValue).prefix(2) == ["1767225600000-0", "1767225600000-0"])
    }

    @Test("a backtest dead letter requeued runs its group's handler again")
    func requeueInBacktest() async throws {
        let router = Fixtures.router(.embedded, clock: ManualClock(), mode: .backtest, seed: 1)
        let failing = SharedInt(1)
        let handled = Collector()
        let channel = Fixtures.channel("test:bt.requeue")
        try await router.withConsumer(group: "g", patterns: [Fixtures.pattern("test:bt.*")], options: ConsumerOptions(maxDeliveries: 3), handler: { envelope in
            if failing.value == 1 { throw SwitchyardError(.handlerError, "not yet") }
            handled.record(envelope)
        }) {
            try await router.publish(to: channel, payload: Fixtures.payload(1))
            let letters = try await router.deadLetters(channel)
            #expect(letters.count == 1 && letters[0].deliveries == 3)
            failing.set(0)
            #expect(try await router.requeueDeadLetters(channel, ids: letters.map(\.id)) == 1)
            #expect(handled.count == 1)
            #expect(try await router.deadLetters(channel).isEmpty)
        }
    }
}

@Suite("Idempotent handler")
struct IdempotentHandlerTests {
    @Test("a redelivered event is handled once within the TTL")
    func once() async throws {
        let clock = ManualClock()
        let effects = SharedInt()
        let once = IdempotentHandler(store: InMemoryProcessedEventStore(clock: clock), ttl: .seconds(60)) { _ in
            effects.increment()
        }
        let envelope = Envelope(
            eventID: .generate(), channel: Fixtures.channel("test:once"), sequenceNumber: 1, timestamp: clock.now(),
            source: "tests", schema: "test:*@1", data: Fixtures.payload(1))
        try await once(envelope)
        try await once(envelope)
        #expect(effects.value == 1)
        clock.advance(by: .seconds(61))
        try await once(envelope)
        #expect(effects.value == 2)
    }

    @Test("a failed handling is not marked, so the retry runs it")
    func failureNotMarked() async throws {
        let attempts = SharedInt()
        let once = IdempotentHandler(store: InMemoryProcessedEventStore(clock: ManualClock()), ttl: .seconds(60)) { _ in
            if attempts.increment() == 1 { throw SwitchyardError(.handlerError, "first") }
        }
        let envelope = Envelope(
            eventID: .generate(), channel: Fixtures.channel("test:once"), sequenceNumber: 1, timestamp: Timestamp.now(),
            source: "tests", schema: "", data: [:])
        await #expect(throws: SwitchyardError.self) { try await once(envelope) }
        try await once(envelope)
        try await once(envelope)
        #expect(attempts.value == 2)
    }
}
