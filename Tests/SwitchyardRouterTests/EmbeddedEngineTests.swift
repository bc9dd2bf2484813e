import JSONSchema
import Logging
import RedisTestSupport
import Switchyard
import Testing

/// What only the embedded engine can be made to do on demand.
@Suite("Embedded engine")
struct EmbeddedEngineTests {
    @Test("a subscriber whose live buffer overflowed fills the gap from the stream")
    func liveOverflowIsFilled() async throws {
        let engine = EmbeddedEngine(configuration: .init(liveBufferSize: 16), logger: Logger(label: "test.engine"))
        let router = Router(
            contracts: Fixtures.contracts, engine: engine,
            configuration: RouterConfiguration(source: "tests", enforcesRateLimits: false), logger: Logger(label: "test.router"))
        let channel = Fixtures.channel("test:overflow")
        try await router.publish(to: channel, payload: Fixtures.payload(1))
        let target: Int64 = 1000
        let reached = SharedInt()
        try await withThrowingTaskGroup(of: [Int64].self) { group in
            group.addTask {
                var numbers: [Int64] = []
                for try await envelope in router.subscribe([Fixtures.pattern("test:overflow")], from: [channel: 1]) {
                    numbers.append(envelope.sequenceNumber)
                    if envelope.sequenceNumber == 1 { reached.set(1) }
                    if envelope.sequenceNumber >= target {
                        reached.set(Int(envelope.sequenceNumber))
                        break
                    }
                }
                return numbers
            }
            #expect(try await eventually { reached.value >= 1 })
            for n in 2...target { try await router.publish(to: channel, payload: Fixtures.payload(Int(n))) }
            let caughtUp = try await eventually {
                if reached.value >= Int(target) { return true }
                try await router.publish(to: channel, payload: Fixtures.payload(0))
                return false
            }
            #expect(caughtUp)
            let numbers = try #require(try await group.next())
            #expect(numbers.first == 1)
            #expect(zip(numbers, numbers.dropFirst()).allSatisfy { $1 == $0 + 1 }, "the sequence has a gap or a duplicate")
        }
    }

    @Test("stream ids have Redis's shape and never go backwards")
    func streamIDs() async throws {
        let clock = ManualClock()
        let router = Fixtures.router(.embedded, clock: clock)
        let channel = Fixtures.channel("test:ids")
        let first = try await router.publish(to: channel, payload: Fixtures.payload(1))
        let second = try await router.publish(to: channel, payload: Fixtures.payload(2))
        clock.advance(by: .milliseconds(5))
        let third = try await router.publish(to: channel, payload: Fixtures.payload(3))
        let start = clock.now().unixMilliseconds - 5
        #expect([first, second, third].map(\.streamID.rawValue) == ["\(start)-0", "\(start)-1", "\(start + 5)-0"])
        let after = try await router.engine.read(channel, from: .after(StreamPosition("\(start)-0")), limit: 10)
        #expect(after.map(\.envelope.sequenceNumber) == [2, 3])
        await #expect(throws: SwitchyardError.self) { try await router.engine.read(channel, from: .after(StreamPosition("nope")), limit: 1) }
    }

    @Test("run() trims channels that see no appends, on the engine's clock")
    func sweep() async throws {
        let clock = ManualClock()
        let router = Fixtures.router(.embedded, clock: clock)
        let channel = Fixtures.channel("test:sweep")
        for n in 0..<5 { try await router.publish(to: channel, payload: Fixtures.payload(n)) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await router.run() }
            let sleeping = try await eventually { clock.sleeperCount == 1 }
            #expect(sleeping)
            clock.advance(by: .seconds(61))
            let trimmed = try await eventually { try await router.info(channel).length == 0 }
            #expect(trimmed)
            group.cancelAll()
        }
        #expect(try await router.info(channel).lastSequenceNumber == 5)
    }

    @Test("dedup agrees with a model under repeats, expiry and table rebuilds")
    func dedupModel() async throws {
        let clock = ManualClock()
        let engine = EmbeddedEngine(clock: clock, logger: Logger(label: "test.engine"))
        let channel = Fixtures.channel("test:dedup.model")
        let rules = AppendRules(retention: .seconds(60), dedupWindow: .milliseconds(500), rateLimit: nil)
        var model: [EventID: (sequenceNumber: Int64, expiresAt: Int64)] = [:]
        var pool: [EventID] = []
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        var lastSequence: Int64 = 0
        for _ in 0..<20_000 {
            let id: EventID
            if !pool.isEmpty && next() % 3 == 0 {
                id = pool[Int(next() % UInt64(pool.count))]
            } else {
                id = EventID(high: next(), low: next())
                pool.append(id)
                if pool.count > 2000 { pool.removeFirst(1000) }
            }
            let now = clock.now().unixMilliseconds
            let receipt = try engine.appendNow([
                AppendRequest(eventID: id, channel: channel, timestamp: clock.now(), source: "t", schema: "", data: [:], rules: rules)
            ])[0]
            if let mark = model[id], mark.expiresAt > now {
                #expect(receipt.duplicate && receipt.sequenceNumber == mark.sequenceNumber)
            } else {
                #expect(!receipt.duplicate && receipt.sequenceNumber == lastSequence + 1)
                lastSequence = try #require(receipt.sequenceNumber)
                model[id] = (lastSequence, now + 500)
            }
            if next() % 4 == 0 { clock.advance(by: .milliseconds(Int64(next() % 20))) }
        }
        #expect(lastSequence > 10_000)
    }
}
