import JSONSchema
import RedisTestSupport
import Switchyard
import Synchronization
import Testing
import Logging
import ServiceLifecycle

/// What every engine must do, through the `Router` and `Engine` API only (copied from the router's
/// tests; each case runs isolated, on its own channel names, and with the engine running).
@Suite("Engine conformance")
struct EngineConformanceTests {
    @Test("order and gap-free sequences under 8 concurrent publishers", arguments: EngineKind.all)
    func concurrentPublishers(kind: EngineKind) async throws {
        try await kind.isolated {
            // An hour of retention: on Redis it is real time, and a slow run must not trim the first events.
            let policy = ChannelPolicy(retentionSeconds: 3600)
            let router = Fixtures.router(kind, overrides: [.init(Fixtures.pattern("test:*"), policy)])
            let channel = Fixtures.channel("test:concurrent")
            let perPublisher = 2_500
            try await withThrowingTaskGroup(of: Void.self) { group in
                for publisher in 0..<8 {
                    group.addTask {
                        for n in 0..<perPublisher {
                            try await router.publish(to: channel, payload: Fixtures.payload(n, publisher: publisher))
                            if n % 64 == 0 { await Task.yield() }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let events = try await router.replay(Fixtures.pattern(channel.rawValue), limit: 100_000)
            #expect(events.count == 8 * perPublisher)
            #expect(events.map(\.sequenceNumber) == Array(1...Int64(8 * perPublisher)))
            var next = [Int64](repeating: 0, count: 8)
            for envelope in events {
                let publisher = Int(envelope.data["publisher"]!.doubleValue!)
                #expect(envelope.data["n"] == .int(next[publisher]))
                next[publisher] += 1
            }
            #expect(zip(events, events.dropFirst()).allSatisfy { $0.timestamp <= $1.timestamp })
            let info = try await router.info(channel)
            #expect(info.lastSequenceNumber == Int64(8 * perPublisher))
        }
    }

    @Test("the same event id within the window is stored once", arguments: EngineKind.all)
    func dedup(kind: EngineKind) async throws {
        try await kind.isolated {
            let clock = ManualClock()
            let router = Fixtures.router(kind, clock: clock)
            let channel = Fixtures.channel("test:dedup")
            let id = EventID.generate()
            let first = try await router.publish(to: channel, payload: Fixtures.payload(1), eventID: id)
            let second = try await router.publish(to: channel, payload: Fixtures.payload(2), eventID: id)
            #expect(!first.duplicate)
            #expect(second.duplicate)
            #expect(second.sequenceNumber == first.sequenceNumber && second.streamID == first.streamID)
            let other = try await router.publish(to: channel, payload: Fixtures.payload(3))
            #expect(other.sequenceNumber == 2)
            #expect(try await router.info(channel).length == 2)
            clock.advance(by: .seconds(301))
            let late = try await router.publish(to: channel, payload: Fixtures.payload(1), eventID: id)
            #expect(!late.duplicate && late.sequenceNumber == 3)
        }
    }

    @Test("an event id twice in one batch is stored once, the second answered with the first's receipt", arguments: EngineKind.all)
    func dedupWithinBatch(kind: EngineKind) async throws {
        try await kind.isolated {
            let router = Fixtures.router(kind, clock: ManualClock())
            let channel = Fixtures.channel("test:dedup.batch")
            let id = EventID.generate()
            let receipts = try await router.publish([
                PublishRequest(channel: channel, payload: Fixtures.payload(1), eventID: id),
                PublishRequest(channel: channel, payload: Fixtures.payload(2)),
                PublishRequest(channel: channel, payload: Fixtures.payload(3), eventID: id),
            ])
            #expect(receipts.map(\.duplicate) == [false, false, true])
            #expect(receipts.map(\.sequenceNumber) == [1, 2, 1])
            #expect(receipts[2].streamID == receipts[0].streamID)
            let stored = try await router.engine.read(channel, from: .beginning, limit: 10)
            #expect(stored.map(\.envelope.sequenceNumber) == [1, 2])
            #expect(stored.map { $0.envelope.data["n"] } == [1, 2])
        }
    }

    @Test("when the clock steps back, stream ids and envelope timestamps stay with the channel's newest", arguments: EngineKind.all)
    func clockStepsBack(kind: EngineKind) async throws {
        try await kind.isolated {
            let clock = ManualClock()
            let router = Fixtures.router(kind, clock: clock)
            let channel = Fixtures.channel("test:clock.back")
            let first = try await router.publish(to: channel, payload: Fixtures.payload(1))
            clock.advance(by: .milliseconds(-5))
            let second = try await router.publish(to: channel, payload: Fixtures.payload(2))
            clock.advance(by: .milliseconds(10))
            let third = try await router.publish(to: channel, payload: Fixtures.payload(3))
            #expect(second.timestamp == first.timestamp)
            #expect(third.timestamp.unixMilliseconds == first.timestamp.unixMilliseconds + 5)
            let stored = try await router.engine.read(channel, from: .beginning, limit: 10)
            #expect(stored.map(\.envelope.timestamp) == [first.timestamp, first.timestamp, third.timestamp])
            #expect(stored.map { $0.position.rawValue.prefix { $0 != "-" } } == [first, first, third].map { Substring(String($0.timestamp.unixMilliseconds)) })
        }
    }

    @Test("a cancelled consumer's pending entries are reclaimed by another", arguments: EngineKind.all)
    func reclaim(kind: EngineKind) async throws {
        try await kind.isolated {
            let router = Fixtures.router(kind)
            let channel = Fixtures.channel("test:reclaim")
            let options = ConsumerOptions(batchSize: 10, visibilityTimeout: .milliseconds(150), claimInterval: .milliseconds(20), blockTimeout: .milliseconds(50))
            for n in 0..<3 { try await router.publish(to: channel, payload: Fixtures.payload(n)) }
            let stuck = Collector()
            try await router.withConsumer(group: "workers", patterns: [Fixtures.pattern(channel.rawValue)], consumer: "a", options: options, handler: { envelope in
                stuck.record(envelope)
                await suspendUntilCancelled()
                throw CancellationError()
            }) {
                // At least one: the entries the stuck handler has not reached yet go idle and may be
                // claimed by this same consumer's claim loop, whose handler then sticks too.
                let started = try await eventually { stuck.count >= 1 }
                #expect(started)
            }
            let pending = try await router.groupInfo("workers", on: channel)
            #expect(pending.pending == 3)
            #expect(pending.pendingByConsumer["a"] == 3)

            let rescued = Collector()
            try await router.withConsumer(group: "workers", patterns: [Fixtures.pattern(channel.rawValue)], consumer: "b", options: options, handler: { rescued.record($0) }) {
                let reclaimed = try await eventually { rescued.count == 3 }
                #expect(reclaimed)
            }
            #expect(rescued.envelopes.map(\.sequenceNumber) == [1, 2, 3])
            #expect(try await router.groupInfo("workers", on: channel).pending == 0)
        }
    }

    @Test(
        "a consumer stopped with a batch read ahead leaves it pending, and it is delivered to another consumer or after a restart",
        arguments: EngineKind.all, ["b", "a"])
    func readAheadLeftPending(kind: EngineKind, rescuer: String) async throws {
        try await kind.isolated {
            let router = Fixtures.router(kind)
            let channel = Fixtures.channel("test:read.ahead")
            for n in 0..<4 { try await router.publish(to: channel, payload: Fixtures.payload(n)) }
            // Batches of two: the handler sticks on the first batch while the second is read ahead.
            // A long visibility timeout keeps this consumer's own claim loop off its entries.
            let stuckOptions = ConsumerOptions(batchSize: 2, visibilityTimeout: .seconds(600), claimInterval: .milliseconds(20), blockTimeout: .milliseconds(50))
            let stuck = Collector()
            try await router.withConsumer(group: "workers", patterns: [Fixtures.pattern(channel.rawValue)], consumer: "a", options: stuckOptions, handler: { envelope in
                stuck.record(envelope)
                await suspendUntilCancelled()
                throw CancellationError()
            }) {
                let readAhead = try await eventually {
                    guard stuck.count == 1 else { return false }
                    return try await router.groupInfo("workers", on: channel).pendingByConsumer["a"] == 4
                }
                #expect(readAhead)
            }
            #expect(stuck.envelopes.map(\.sequenceNumber) == [1])
            let pending = try await router.groupInfo("workers", on: channel)
            #expect(pending.pending == 4)
            #expect(pending.pendingByConsumer["a"] == 4)

            let options = ConsumerOptions(batchSize: 2, visibilityTimeout: .milliseconds(150), claimInterval: .milliseconds(20), blockTimeout: .milliseconds(50))
            let rescued = Collector()
            try await router.withConsumer(group: "workers", patterns: [Fixtures.pattern(channel.rawValue)], consumer: rescuer, options: options, handler: { rescued.record($0) }) {
                let rescuedAll = try await eventually { rescued.count == 4 }
                #expect(rescuedAll)
            }
            #expect(rescued.envelopes.map(\.sequenceNumber) == [1, 2, 3, 4])
            #expect(try await router.groupInfo("workers", on: channel).pending == 0)
        }
    }

    @Test("a poison message is dead-lettered after N deliveries, and can be requeued", arguments: EngineKind.all)
    func poison(kind: EngineKind) async throws {
        try await kind.isolated {
            let router = Fixtures.router(kind)
            let channel = Fixtures.channel("test:poison")
            let healed = SharedInt(0)
            let attempts = SharedInt()
            let handled = Collector()
            let options = ConsumerOptions(maxDeliveries: 3, backoff: .init(initial: .milliseconds(1), maximum: .milliseconds(4)), blockTimeout: .milliseconds(50))
            try await router.withConsumer(group: "g", patterns: [Fixtures.pattern("test:poison")], options: options, handler: { envelope in
                if envelope.data["n"] == .int(13) && healed.value == 0 {
                    attempts.increment()
                    throw SwitchyardError.validation(missing: ["price"], invalid: [])
                }
                handled.record(envelope)
            }) {
                for n in 12...14 { try await router.publish(to: channel, payload: Fixtures.payload(n)) }
                #expect(try await eventually { try await router.deadLetters(channel).count == 1 && handled.count == 2 })
                let letter = try #require(try await router.deadLetters(channel).first)
                #expect(letter.group == "g")
                #expect(letter.deliveries == 3)
                #expect(attempts.value == 3)
                #expect(letter.envelope.data["n"] == .int(13))
                // Seed 000's processing_error, the handler's own error in its details.
                #expect(letter.error["error_type"] == "processing_error")
                #expect(letter.error["service"] == "tests" && letter.error["retry_count"] == 2)
                #expect(letter.error["original_message"]?["data"]?["n"] == .int(13))
                #expect(letter.error["details"]?["error_type"] == "validation_error")
                #expect(letter.error["details"]?["details"]?["missing_fields"] == ["price"])
                #expect(letter.fields.map(\.name) == ["envelope", "group", "error", "deliveries", "failed_at"])
                #expect(handled.envelopes.map { $0.data["n"] } == [.int(12), .int(14)])

                healed.set(1)
                #expect(try await router.requeueDeadLetters(channel, ids: [letter.id]) == 1)
                #expect(try await eventually { handled.count == 3 })
                #expect(try await router.deadLetters(channel).isEmpty)
            }
            #expect(try await router.groupInfo("g", on: channel).pending == 0)
        }
    }

    @Test("retention never trims what a group was not delivered, unless the hard cap is hit", arguments: EngineKind.all)
    func retentionAndTrimGuard(kind: EngineKind) async throws {
        try await kind.isolated {
            let clock = ManualClock()
            let router = Fixtures.router(kind, clock: clock, maxEntries: 10)
            let engine = router.engine
            let channel = Fixtures.channel("test:retention")
            try await engine.createGroup("slow", on: channel, start: .beginning)
            for n in 0..<5 { try await router.publish(to: channel, payload: Fixtures.payload(n)) }
            // Past the retention (60 s) and its trim step (1/16 of it, at most 1 s, on Redis).
            clock.advance(by: .seconds(62))
            try await router.publish(to: channel, payload: Fixtures.payload(5))
            #expect(try await router.info(channel).length == 6)

            let delivered = try await engine.readGroup(GroupReadRequest(group: "slow", consumer: "c", channels: [channel], count: 3, block: nil))
            #expect(delivered.map(\.envelope.sequenceNumber) == [1, 2, 3])
            try await router.publish(to: channel, payload: Fixtures.payload(6))
            let info = try await router.info(channel)
            #expect(info.firstSequenceNumber == 4)
            #expect(info.trimmedUndelivered == 0)

            let claimed = try await engine.claim(ClaimRequest(group: "slow", channel: channel, consumer: "d", minIdle: .zero))
            #expect(claimed.deliveries.isEmpty)
            #expect(claimed.deleted == delivered.map(\.position))

            for n in 7..<20 { try await router.publish(to: channel, payload: Fixtures.payload(n)) }
            let capped = try await router.info(channel)
            #expect(capped.length == 10)
            #expect(capped.trimmedUndelivered == 7)
            #expect(capped.firstSequenceNumber == 11)
        }
    }

    @Test("a pattern consumer picks up a channel that appears after it started", arguments: EngineKind.all)
    func patternPickup(kind: EngineKind) async throws {
        try await kind.isolated {
            let router = Fixtures.router(kind)
            let seen = Collector()
            try await router.withConsumer(group: "late", patterns: [Fixtures.pattern("test:dyn.*")], handler: { seen.record($0) }) {
                try await router.publish(to: Fixtures.channel("test:dyn.fresh"), payload: Fixtures.payload(1))
                #expect(try await eventually { seen.count == 1 })
            }
            #expect(seen.envelopes.first?.channel == Fixtures.channel("test:dyn.fresh"))
        }
    }

    @Test("replay by sequence and by time, on a channel and a pattern", arguments: EngineKind.all)
    func replay(kind: EngineKind) async throws {
        try await kind.isolated {
            let clock = ManualClock()
            let start = clock.now()
            let router = Fixtures.router(kind, clock: clock)
            for n in 1...10 {
                try await router.publish(to: Fixtures.channel("test:replay.a"), payload: Fixtures.payload(n))
                try await router.publish(to: Fixtures.channel("test:replay.b"), payload: Fixtures.payload(n))
                clock.advance(by: .seconds(1))
            }
            let a = Fixtures.pattern("test:replay.a")
            let bySequence = try await router.replay(a, since: .sequence(4), until: .sequence(6))
            #expect(bySequence.map(\.sequenceNumber) == [4, 5, 6])
            let since = Timestamp(unixMilliseconds: start.unixMilliseconds + 2000)
            let until = Timestamp(unixMilliseconds: start.unixMilliseconds + 4000)
            let byTime = try await router.replay(a, since: .time(since), until: .time(until))
            #expect(byTime.map(\.sequenceNumber) == [3, 4, 5])
            let both = try await router.replay(Fixtures.pattern("test:replay.*"), since: .time(since), until: .time(until))
            #expect(both.count == 6)
            #expect(both.map(\.channel) == ["test:replay.a", "test:replay.b", "test:replay.a", "test:replay.b", "test:replay.a", "test:replay.b"].map(Fixtures.channel))
            #expect(try await router.replay(a, limit: 4).count == 4)
            let latest = try #require(try await router.latest(Fixtures.channel("test:replay.a")))
            #expect(latest.sequenceNumber == 10)
            clock.advance(by: .seconds(61))
            #expect(try await router.latest(Fixtures.channel("test:replay.a")) == nil)
        }
    }

    @Test("subscribe with resume: no gap and no duplicate at the seam while publishers go on", arguments: EngineKind.all)
    func subscribeResume(kind: EngineKind) async throws {
        try await kind.isolated {
            let router = Fixtures.router(kind)
            let channel = Fixtures.channel("test:resume")
            let total: Int64 = 3000
            let published = SharedInt()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for n in 1...total {
                        let receipt = try await router.publish(to: channel, payload: Fixtures.payload(Int(n)))
                        published.set(Int(try #require(receipt.sequenceNumber)))
                        if n % 100 == 0 { await Task.yield() }
                    }
                }
                #expect(try await eventually(timeout: .seconds(60)) { published.value >= 500 })
                let resumeFrom: Int64 = 200
                let received = try await withTimeout(.seconds(60)) {
                    var numbers: [Int64] = []
                    for try await envelope in router.subscribe([Fixtures.pattern(channel.rawValue)], from: [channel: resumeFrom]) {
                        numbers.append(envelope.sequenceNumber)
                        if envelope.sequenceNumber == total { break }
                    }
                    return numbers
                }
                let expected = Array(resumeFrom...total)
                let firstMismatch = zip(received, expected).first { $0.0 != $0.1 }
                #expect(firstMismatch == nil, "first mismatch (got, wanted): \(String(describing: firstMismatch))")
                #expect(received.count == expected.count)
                try await group.waitForAll()
            }
        }
    }

    @Test("rate limit: a typed error with retry-after, and nothing stored", arguments: EngineKind.all)
    func rateLimit(kind: EngineKind) async throws {
        try await kind.isolated {
            let clock = ManualClock()
            let policy = ChannelPolicy(retentionSeconds: 60, rateLimit: .init(perSecond: 10, burst: 20))
            let router = Fixtures.router(kind, clock: clock, rateLimits: true, overrides: [.init(Fixtures.pattern("test:*"), policy)])
            let channel = Fixtures.channel("test:limited")
            for n in 0..<20 { try await router.publish(to: channel, payload: Fixtures.payload(n)) }
            let error = await #expect(throws: SwitchyardError.self) {
                try await router.publish(to: channel, payload: Fixtures.payload(20))
            }
            #expect(error?.code == .rateLimited)
            #expect(error?.retryAfter == .milliseconds(100))
            #expect(error?.details["retry_after_ms"] == .int(100))
            #expect(try await router.info(channel).length == 20)

            clock.advance(by: .milliseconds(100))
            try await router.publish(to: channel, payload: Fixtures.payload(20))
            clock.advance(by: .milliseconds(500))
            let batch = (0..<6).map { PublishRequest(channel: channel, payload: Fixtures.payload($0)) }
            let batchError = await #expect(throws: SwitchyardError.self) { try await router.publish(batch) }
            #expect(batchError?.code == .rateLimited)
            #expect(try await router.info(channel).length == 21)
            #expect(try await router.publish(Array(batch.prefix(5))).count == 5)
        }
    }

    @Test("oversized, invalid and credential-bearing payloads are refused with the structured error", arguments: EngineKind.all)
    func refusals(kind: EngineKind) async throws {
        try await kind.isolated {
            let router = Fixtures.router(kind)
            let channel = Fixtures.channel("test:refused")
            let cases: [(JSONValue, SwitchyardError.Code, (JSONValue) -> Bool)] = [
                (["n": 1, "note": .string(String(repeating: "x", count: 5000))], .payloadTooLarge, { $0["details"]?["max_size_bytes"] == 4096 }),
                (["note": "no n"], .validationError, { $0["details"]?["missing_fields"] == ["n"] }),
                (["n": "one"], .validationError, { $0["details"]?["invalid_fields"]?["n"] != nil }),
                (["n": 1, "password": "hunter2"], .validationError, { $0["details"]?["invalid_fields"]?["password"] != nil }),
                ([1, 2], .validationError, { $0["message"] == "Invalid message schema" }),
            ]
            for (payload, code, detailsOK) in cases {
                let error = await #expect(throws: SwitchyardError.self) { try await router.publish(to: channel, payload: payload) }
                #expect(error?.code == code)
                #expect(error?.body["error_type"] == .string(code.rawValue))
                #expect(error.map { detailsOK($0.body) } == true, "\(String(describing: error?.body.serialized()))")
                #expect(error?.description.contains("hunter2") == false)
            }
            let unknown = await #expect(throws: SwitchyardError.self) {
                try await router.publish(to: Fixtures.channel("nobody:home"), payload: Fixtures.payload(1))
            }
            #expect(unknown?.code == .unknownChannel)
            let batch = [PublishRequest(channel: channel, payload: Fixtures.payload(1)), PublishRequest(channel: channel, payload: ["n": "x"])]
            let batchError = await #expect(throws: SwitchyardError.self) { try await router.publish(batch) }
            #expect(batchError?.details["index"] == 1)
            let info = try await router.info(channel)
            #expect(info.length == 0 && info.lastSequenceNumber == 0)
            #expect(try await router.latest(channel) == nil)
        }
    }
}
