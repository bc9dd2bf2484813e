import Foundation
import HummingbirdTesting
import HummingbirdWSTesting
import JSONSchema
import RedisClient
import RedisTestSupport
import Switchyard
import SwitchyardGateway
import SwitchyardRedis
import Testing

/// `/v1/ws` on the Redis engine: resume across a gateway restart, and the gap frame for trimmed history.
@Suite(.needs(.redis)) struct RedisWebSocketTests {
    /// A gateway over a fresh engine and client on the test server, as a new process would build it.
    static func gateway() throws -> TestGateway {
        let engine = RedisEngine(client: try RedisClient(configuration: try TestEnvironment.configuration(), logger: TestGateway.logger), logger: TestGateway.logger)
        return try TestGateway(allowsUnknownChannels: true, engine: engine)
    }

    static func channel(_ prefix: String) -> String {
        "\(prefix):\(UUID().uuidString.prefix(8).lowercased())"
    }

    @Test func resumeAcrossAGatewayRestartHasNoGapAndNoDuplicate() async throws {
        try await RedisServerGate.shared.shared {
            let channel = Self.channel("trades")
            let first = try Self.gateway()
            try await first.live { client in
                try await client.conversation { conversation in
                    try await conversation.subscribe(["\(channel)*"])
                    for n in 1...3 { try await WebSocketTests.publish(first.router, channel, n) }
                    let events = try await conversation.events(3)
                    #expect(events.map(\.sequenceNumber) == [1, 2, 3])
                }
            }
            // Published while no gateway runs: only Redis holds them.
            let publisher = try Self.gateway()
            for n in 4...6 { try await WebSocketTests.publish(publisher.router, channel, n) }

            let second = try Self.gateway()
            try await second.live { client in
                try await client.conversation { conversation in
                    try await conversation.subscribe(["\(channel)*"], resume: [channel: 3])
                    let history = try await conversation.events(3)
                    #expect(history.map(\.sequenceNumber) == [4, 5, 6])
                    #expect(history.map { $0.data["n"] } == [4, 5, 6])
                    for n in 7...8 { try await WebSocketTests.publish(second.router, channel, n) }
                    let live = try await conversation.events(2)
                    #expect(live.map(\.sequenceNumber) == [7, 8])
                }
            }
        }
    }

    @Test func aResumeOfAChannelWithoutReadGrantIsRefusedAndSendsNothing() async throws {
        try await RedisServerGate.shared.shared {
            let engine = RedisEngine(
                client: try RedisClient(configuration: try TestEnvironment.configuration(), logger: TestGateway.logger), logger: TestGateway.logger)
            let gateway = try TestGateway(allowsUnknownChannels: true, engine: engine, authenticator: try await TestAuth.authenticator())
            try await WebSocketGrantTests.resumeOfAnUnreadableChannelIsRefused(
                gateway, secret: Self.channel("orders.secret"), readable: Self.channel("trades"))
        }
    }

    @Test func aResumePointTrimmedAwayIsAnnouncedWithAGapFrame() async throws {
        try await RedisServerGate.shared.shared {
            let channel = Self.channel("events")
            let gateway = try Self.gateway()
            for n in 1...10 { try await WebSocketTests.publish(gateway.router, channel, n) }
            try await runClient(try TestEnvironment.configuration()) { client in
                _ = try await client.execute(XTRIM("stream:{\(channel)}", .maxLength(3)))
            }
            try await gateway.live { client in
                try await client.conversation { conversation in
                    try await conversation.send(#"{"type":"subscribe","patterns":["\#(channel)"],"resume":{"\#(channel)":2}}"#)
                    #expect(try await conversation.frame()["type"] == "subscribed")
                    let gap = try await conversation.frame()
                    #expect(gap == ["type": "gap", "channel": .string(channel), "from": 3, "to": 7])
                    #expect(try await conversation.events(3).map(\.sequenceNumber) == [8, 9, 10])
                    try await WebSocketTests.publish(gateway.router, channel, 11)
                    #expect(try await conversation.events(1).map(\.sequenceNumber) == [11])
                }
            }
        }
    }
}

/// A Redis engine runs once: a second run() fails at once, leaves the running one serving live
/// subscriptions, and cancelling the running one returns. (A second run used to take over the
/// subscription connection's run loop, so cancelling the first never returned; the gateway's
/// application runs the router as one of its services, so a test that also ran it hung.)
@Suite(.needs(.redis)) struct RedisEngineRunsOnceTests {
    @Test func aSecondRunFailsAndTheFirstKeepsServingUntilCancelled() async throws {
        try await RedisServerGate.shared.shared {
            let gateway = try RedisWebSocketTests.gateway()
            let router = gateway.router
            let channel = try ChannelName(RedisWebSocketTests.channel("events"))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await router.run() }
                var live = router.subscribe([try ChannelPattern(channel.rawValue)]).makeAsyncIterator()
                try await live.start()
                await #expect { try await router.run() } throws: { ($0 as? SwitchyardError)?.code == .engineUnavailable }
                try await router.publish(to: channel, payload: ["n": 1])
                #expect(try await live.next()?.sequenceNumber == 1, "the running engine still serves live subscriptions")
                group.cancelAll()
                while (try? await group.next()) != nil {}
            }
        }
    }
}
