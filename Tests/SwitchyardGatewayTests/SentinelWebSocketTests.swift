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

/// `/v1/ws` on Redis under Sentinel, across a failover of a private deployment.
@Suite(.serialized, .timeLimit(.minutes(5)), .needs(.redis)) struct SentinelWebSocketTests {
    @Test func aWebSocketClientGetsEveryAcknowledgedEventInOrderAcrossAFailover() async throws {
        try await OneAtATime.privateDeployments.run {
            let deployment = try await SentinelDeployment.start()
            defer { deployment.stop() }
            try await Self.followFailover(deployment)
        }
    }

    static func followFailover(_ deployment: SentinelDeployment) async throws {
        let gateway = try TestGateway.replicated(url: deployment.url)
        let channel = try ChannelName("wsfailover:\(UUID().uuidString.prefix(8).lowercased())")
        try await gateway.live(seconds: 180) { client in
            try await client.conversation { conversation in
                try await conversation.subscribe([channel.rawValue])
                for n in 1...5 { try await gateway.router.publish(to: channel, payload: ["n": .int(Int64(n))]) }
                #expect(try await conversation.events(5).map(\.sequenceNumber) == [1, 2, 3, 4, 5])

                let killed = try await deployment.killPrimary()
                let promoted = try await eventually(timeout: .seconds(30), every: .milliseconds(100)) {
                    (try? await deployment.primaryPort()).map { $0 != killed } ?? false
                }
                #expect(promoted, "the Sentinels promoted the replica")
                // The killed server comes back as the new primary's replica, so replicated
                // publishes are acknowledged again.
                try deployment.restart(port: killed)
                for n in 6...10 {
                    #expect(try await gateway.publishUntilAcknowledged(to: channel, n: n), "event \(n) acknowledged after the failover")
                }
                // After the failover the live feed resubscribed on the new primary: the events
                // come in order, without a gap or a duplicate (what the resubscription missed is
                // filled from the stream).
                let after = try await conversation.events(5)
                #expect(after.map(\.sequenceNumber) == [6, 7, 8, 9, 10])
                #expect(after.map { $0.data["n"] } == [6, 7, 8, 9, 10])
            }
        }
    }
}

extension TestGateway {
    /// A gateway on the Redis of `url` whose channels `wsfailover:*` are acknowledged `replicated`,
    /// reconnecting quickly, for the failover tests.
    static func replicated(url: String) throws -> TestGateway {
        var redis = try RedisConfiguration(url: url)
        redis.connectTimeout = .seconds(1)
        redis.reconnect.maximumDelay = .milliseconds(200)
        let engine = RedisEngine(
            client: try RedisClient(configuration: redis, logger: TestGateway.logger),
            configuration: RedisEngine.Configuration(replicationTimeout: .seconds(2)), logger: TestGateway.logger)
        let policy = ChannelPolicy(retentionSeconds: 600, acknowledge: .replicated)
        let contracts = try ContractRegistry([
            try Contract(channel: try ChannelPattern("wsfailover:*"), schema: ["type": "object", "required": ["n"]], policy: policy)
        ])
        return try TestGateway(engine: engine, contracts: contracts)
    }

    /// Publishes `{"n": n}` with one event id until it is acknowledged (at most 30 s): a refusal may
    /// come after the primary stored the event (no replica confirmed it), and the retry with the
    /// same event id is stored once. Returns whether it was acknowledged.
    func publishUntilAcknowledged(to channel: ChannelName, n: Int) async throws -> Bool {
        let eventID = EventID.generate()
        return try await eventually(timeout: .seconds(30), every: .milliseconds(50)) {
            (try? await router.publish(to: channel, payload: ["n": .int(Int64(n))], eventID: eventID)) != nil
        }
    }
}
