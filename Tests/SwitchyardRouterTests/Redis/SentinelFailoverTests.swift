import Foundation
import JSONSchema
import Logging
import RedisClient
import RedisTestSupport
import Switchyard
import SwitchyardRedis
import Synchronization
import Testing

/// A primary killed with SIGKILL while a router publishes through Sentinel, on a deployment of the
/// test's own (a primary, its replica, three Sentinels).
@Suite(.serialized, .timeLimit(.minutes(5)), .needs(.redis)) struct SentinelFailoverTests {
    static func router(url: String, acknowledge: ChannelPolicy.Acknowledge?, critical: Bool = false) -> Router {
        let policy = ChannelPolicy(retentionSeconds: 600, critical: critical, acknowledge: acknowledge)
        let contracts = try! ContractRegistry([try! Contract(channel: try! ChannelPattern("test:*"), schema: Fixtures.schema, policy: policy)])
        let engine = RedisTestServer.makeEngine(url: url, configuration: RedisEngine.Configuration(replicationTimeout: .seconds(2)))
        return Router(contracts: contracts, engine: engine, configuration: RouterConfiguration(source: "tests"), logger: Logger(label: "test.router"))
    }

    /// Publishes `n` with one event id until a receipt comes back (a retry of a publish whose
    /// acknowledgement was lost is stored once); returns the receipt (`nil` after 30 s) and the
    /// number of refusals before it.
    static func publishUntilAcknowledged(_ router: Router, _ channel: ChannelName, _ n: Int) async throws -> (PublishReceipt?, refusals: Int) {
        let eventID = EventID.generate()
        var receipt: PublishReceipt?
        var refusals = 0
        _ = try await eventually(timeout: .seconds(30), every: .milliseconds(50)) {
            do {
                receipt = try await router.publish(to: channel, payload: Fixtures.payload(n), eventID: eventID)
            } catch {
                refusals += 1
            }
            return receipt != nil
        }
        return (receipt, refusals)
    }

    @Test func replicatedAcknowledgementsLoseNothingWhenThePrimaryIsKilled() async throws {
                try await RedisTestServer.withPrivateDeployment {
            let deployment = try await SentinelDeployment.start()
            defer { deployment.stop() }
            let router = Self.router(url: deployment.url, acknowledge: .replicated)
            let channel = try ChannelName("test:failover.orders")
            var refusals = 0
            var acknowledged: [Int: PublishReceipt] = [:]
            var killedAfter = 0
            var oldPrimary = 0
            var comeback: Task<Bool, any Error>?
            for n in 1...120 {
                if n == 41 {
                    let killed = try await deployment.killPrimary()
                    (oldPrimary, killedAfter) = (killed, acknowledged.count)
                    // With its only replica promoted, the new primary has none until the killed
                    // server comes back (as a replica): until then `replicated` publishes are refused.
                    comeback = Task {
                        let promoted = try await eventually(timeout: .seconds(30), every: .milliseconds(100)) {
                            (try? await deployment.primaryPort()).map { $0 != killed } ?? false
                        }
                        if promoted { try deployment.restart(port: killed) }
                        return promoted
                    }
                }
                let (receipt, refused) = try await Self.publishUntilAcknowledged(router, channel, n)
                refusals += refused
                let acked = try #require(receipt, "event \(n) never acknowledged")
                acknowledged[n] = acked
            }
            #expect(killedAfter == 40)
            #expect(try await comeback?.value == true, "the Sentinels promoted the replica")
            let newPrimary = try #require(try await deployment.primaryPort())
            #expect(newPrimary != oldPrimary)
            #expect(refusals > 0, "publishes were refused while no primary was reachable")

            let stored = try await router.read(channel, from: .sequence(1), limit: 1000).map(\.envelope)
            let storedIDs = stored.map(\.eventID)
            #expect(Set(storedIDs).count == storedIDs.count, "no event is stored twice")
            #expect(stored.map(\.sequenceNumber) == Array(1...Int64(stored.count)), "the sequence is gap-free across the failover")
            for n in 1...120 {
                let receipt = try #require(acknowledged[n])
                let envelope = stored.first { $0.eventID == receipt.eventID }
                #expect(envelope?.sequenceNumber == receipt.sequenceNumber, "acknowledged event \(n) is on the new primary, where its receipt says")
                #expect(envelope?.data["n"] == .int(Int64(n)))
            }
            #expect(stored.count == 120)
        }
    }

    @Test func criticalChannelsWaitForAReplicaUnderSentinelAndPrimaryAcknowledgementsDoNot() async throws {
                try await RedisTestServer.withPrivateDeployment {
            let deployment = try await SentinelDeployment.start()
            defer { deployment.stop() }
            let critical = Self.router(url: deployment.url, acknowledge: nil, critical: true)
            let primaryOnly = Self.router(url: deployment.url, acknowledge: .primary, critical: true)
            let channel = try ChannelName("test:failover.critical")
            _ = try await critical.publish(to: channel, payload: Fixtures.payload(1))
            _ = try await primaryOnly.publish(to: channel, payload: Fixtures.payload(2))
            // With the replica stopped (SIGSTOP), nothing confirms: the critical channel's publish
            // is refused after the replication timeout, and the primary-acknowledged one is not.
            let primary = try await deployment.primaryPort()
            let replica = try #require(deployment.serverPorts.first { $0 != primary })
            deployment.pause(port: replica)
            defer { deployment.resume(port: replica) }
            let refusal = try await #require(throws: SwitchyardError.self) {
                _ = try await critical.publish(to: channel, payload: Fixtures.payload(3))
            }
            #expect(refusal.code == .engineUnavailable)
            #expect(refusal.details["replication"] == "unconfirmed", "\(refusal)")
            let quick = try await primaryOnly.publish(to: channel, payload: Fixtures.payload(4))
            #expect(quick.status == .stored)
        }
    }
}
