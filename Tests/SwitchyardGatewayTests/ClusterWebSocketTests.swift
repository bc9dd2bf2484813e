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

/// `/v1/ws` on a Redis Cluster, across the failover of the primary that serves the channel and
/// holds the gateway's subscription connection (a private cluster).
@Suite(.serialized, .timeLimit(.minutes(5)), .needs(.redis)) struct ClusterWebSocketTests {
    @Test func aWebSocketClientGetsEveryAcknowledgedEventInOrderAcrossAFailover() async throws {
        try await OneAtATime.privateDeployments.run {
            let cluster = try await ClusterDeployment.start()
            defer { cluster.stop() }
            let gateway = try TestGateway.replicated(url: cluster.url)
            // The channel's slot is on the node of the URL, where the subscription connection goes first.
            let topology = try await cluster.topology()
            let suffix = UUID().uuidString.prefix(6).lowercased()
            var index = 0
            while topology.primary(ofSlot: RedisClusterSlot.of("wsfailover:\(suffix).\(index)"))?.port != cluster.ports[0] { index += 1 }
            let channel = try ChannelName("wsfailover:\(suffix).\(index)")
            let victimSlot = RedisClusterSlot.of(channel.rawValue)
            try await gateway.live(seconds: 180) { client in
                try await client.conversation { conversation in
                    try await conversation.subscribe([channel.rawValue])
                    for n in 1...5 { try await gateway.router.publish(to: channel, payload: ["n": .int(Int64(n))]) }
                    #expect(try await conversation.events(5).map(\.sequenceNumber) == [1, 2, 3, 4, 5])

                    cluster.kill(port: cluster.ports[0])
                    let promoted = try await eventually(timeout: .seconds(30), every: .milliseconds(100)) {
                        (try? await cluster.primaryPort(ofSlot: victimSlot)).map { $0 != cluster.ports[0] } ?? false
                    }
                    #expect(promoted, "the cluster promoted the replica")
                    // The killed node comes back as the new primary's replica, so replicated
                    // publishes are acknowledged again.
                    try cluster.restart(port: cluster.ports[0])
                    for n in 6...10 {
                        #expect(try await gateway.publishUntilAcknowledged(to: channel, n: n), "event \(n) acknowledged after the failover")
                    }
                    // The live feed resubscribed on another node: the events come in order, without
                    // a gap or a duplicate (what the resubscription missed is filled from the stream).
                    let after = try await conversation.events(5)
                    #expect(after.map(\.sequenceNumber) == [6, 7, 8, 9, 10])
                    #expect(after.map { $0.data["n"] } == [6, 7, 8, 9, 10])
                }
            }
        }
    }
}
