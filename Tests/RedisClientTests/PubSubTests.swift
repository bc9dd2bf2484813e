import RedisTestSupport
import NIOCore
import RESP
import RedisClient
import Testing

@Suite(.timeLimit(.minutes(10)), .needs(.redis)) struct PubSubTests {
    @Test(arguments: [2, 3]) func subscribeReceivesPublishedMessages(version: Int) async throws {
        try await withClient(try configuration(protocol: version)) { client throws in
            let channel = TestEnvironment.uniqueKey("channel")
            try await client.subscribe(to: [channel]) { subscription throws in
                #expect(try await client.execute(PUBLISH(channel, message: "one")) == 1)
                #expect(try await client.execute(PUBLISH(channel, message: "two")) == 1)
                var received: [String] = []
                for try await event in subscription {
                    guard let message = event.message else { continue }
                    #expect(message.channel == channel)
                    received.append(String(buffer: message.payload))
                    if received.count == 2 { break }
                }
                #expect(received == ["one", "two"])
            }
            #expect(try await client.execute(PUBLISH(channel, message: "after")) == 0)
        }
    }

    @Test(arguments: [2, 3]) func patternAndShardSubscriptions(version: Int) async throws {
        try await withClient(try configuration(protocol: version)) { client throws in
            let prefix = TestEnvironment.uniqueKey("pattern")
            try await client.subscribe(toPatterns: ["\(prefix):*"]) { patterns throws in
                try await client.subscribe(toShardChannels: ["\(prefix)-shard"]) { shards throws in
                    #expect(try await client.execute(PUBLISH("\(prefix):a", message: "p")) == 1)
                    #expect(try await client.execute(SPUBLISH("\(prefix)-shard", message: "s")) == 1)
                    var patternIterator = patterns.makeAsyncIterator()
                    let message = try await patternIterator.next()?.message
                    #expect(message?.pattern == "\(prefix):*")
                    #expect(message?.channel == "\(prefix):a")
                    #expect(message.map { String(buffer: $0.payload) } == "p")
                    var shardIterator = shards.makeAsyncIterator()
                    let sharded = try await shardIterator.next()?.message
                    #expect(sharded?.isSharded == true)
                    #expect(sharded.map { String(buffer: $0.payload) } == "s")
                }
            }
        }
    }

    @Test func twoSubscribersToOneChannelBothReceiveAndUnsubscribeIndependently() async throws {
        try await withClient { client throws in
            let channel = TestEnvironment.uniqueKey("shared")
            try await client.subscribe(to: [channel]) { first throws in
                try await client.subscribe(to: [channel]) { second throws in
                    _ = try await client.execute(PUBLISH(channel, message: "both"))
                    var secondIterator = second.makeAsyncIterator()
                    #expect(try await secondIterator.next()?.message.map { String(buffer: $0.payload) } == "both")
                }
                _ = try await client.execute(PUBLISH(channel, message: "first-only"))
                var firstIterator = first.makeAsyncIterator()
                #expect(try await firstIterator.next()?.message.map { String(buffer: $0.payload) } == "both")
                #expect(try await firstIterator.next()?.message.map { String(buffer: $0.payload) } == "first-only")
            }
        }
    }

    /// Returns once every message published before the call has been dispatched to its
    /// subscription: a marker published last on a channel of its own arrives, on the same
    /// subscription connection, after all of them.
    static func waitUntilDispatched(_ client: RedisClient) async throws {
        let marker = TestEnvironment.uniqueKey("marker")
        try await client.subscribe(to: [marker]) { markers throws in
            _ = try await client.execute(PUBLISH(marker, message: "last"))
            var iterator = markers.makeAsyncIterator()
            _ = try await iterator.next()
        }
    }

    @Test func overflowDropsNewestAndReportsAGap() async throws {
        var configuration = try TestEnvironment.configuration()
        configuration.subscriptions.bufferSize = 3
        try await withClient(configuration) { client throws in
            let channel = TestEnvironment.uniqueKey("overflow")
            try await client.subscribe(to: [channel]) { subscription throws in
                for index in 0..<10 { _ = try await client.execute(PUBLISH(channel, message: "\(index)")) }
                try await Self.waitUntilDispatched(client)
                var iterator = subscription.makeAsyncIterator()
                var events: [RedisSubscription.Event] = []
                for _ in 0..<3 { events.append(try #require(try await iterator.next())) }
                _ = try await client.execute(PUBLISH(channel, message: "late"))
                events.append(try #require(try await iterator.next()))
                events.append(try #require(try await iterator.next()))
                #expect(events.prefix(3).compactMap { $0.message.map { String(buffer: $0.payload) } } == ["0", "1", "2"])
                #expect(events[3].gap == RedisSubscription.Gap(reason: .overflow, droppedMessages: 7))
                #expect(events[4].message.map { String(buffer: $0.payload) } == "late")
            }
        }
    }

    @Test func overflowWithFailPolicyEndsTheSubscription() async throws {
        var configuration = try TestEnvironment.configuration()
        configuration.subscriptions.bufferSize = 2
        configuration.subscriptions.overflowPolicy = .fail
        try await withClient(configuration) { client throws in
            let channel = TestEnvironment.uniqueKey("overflow-fail")
            try await client.subscribe(to: [channel]) { subscription throws in
                for index in 0..<5 { _ = try await client.execute(PUBLISH(channel, message: "\(index)")) }
                try await Self.waitUntilDispatched(client)
                var count = 0
                do {
                    for try await _ in subscription { count += 1 }
                    Issue.record("expected an overflow error")
                } catch let error as RedisError {
                    #expect(error.code == .subscriptionOverflow)
                }
                #expect(count == 2)
            }
        }
    }

    @Test func subscribeWithoutRunFailsInsteadOfHanging() async throws {
        var configuration = try TestEnvironment.configuration()
        configuration.subscriptions.confirmationTimeout = .milliseconds(200)
        let client = try RedisClient(configuration: configuration, logger: CapturedLogs().logger())
        await #expect(throws: RedisError.self) {
            try await client.subscribe(to: ["never"]) { _ throws in }
        }
    }
}

/// A client runs once: a second run() fails at once instead of taking over the subscription
/// connection's run loop (after which cancelling the first run never returned).
@Suite(.timeLimit(.minutes(10)), .needs(.redis)) struct RunOnceTests {
    @Test func aSecondRunFailsAndTheFirstStillSubscribesAndStops() async throws {
        try await withClient { client throws in
            await #expect { try await client.run() } throws: { ($0 as? RedisError)?.code == .alreadyRunning }
            let channel = TestEnvironment.uniqueKey("run-once")
            try await client.subscribe(to: [channel]) { subscription throws in
                #expect(try await client.execute(PUBLISH(channel, message: "one")) == 1)
                for try await event in subscription where event.message != nil { break }
            }
        }
    }
}
