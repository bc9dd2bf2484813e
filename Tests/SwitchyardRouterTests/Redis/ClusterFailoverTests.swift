import Foundation
import JSONSchema
import Logging
import RedisClient
import RedisTestSupport
import Switchyard
import SwitchyardRedis
import Synchronization
import Testing

/// A router on a Redis Cluster of the test's own (three primaries, three replicas) while a primary
/// is killed with SIGKILL, and while a channel's slot is resharded with `redis-cli --cluster reshard`.
@Suite(.serialized, .timeLimit(.minutes(5)), .needs(.redis)) struct ClusterFailoverTests {
    static func router(url: String, acknowledge: ChannelPolicy.Acknowledge?) -> Router {
        let policy = ChannelPolicy(retentionSeconds: 600, acknowledge: acknowledge)
        let contracts = try! ContractRegistry([try! Contract(channel: try! ChannelPattern("test:*"), schema: Fixtures.schema, policy: policy)])
        let engine = RedisTestServer.makeEngine(url: url, configuration: RedisEngine.Configuration(replicationTimeout: .seconds(2)))
        return Router(contracts: contracts, engine: engine, configuration: RouterConfiguration(source: "tests"), logger: Logger(label: "test.router"))
    }

    /// Channels named `prefix.N`, one whose slot each primary of `topology` serves.
    static func channels(_ prefix: String, onEachPrimaryOf topology: RedisClusterTopology) throws -> [ChannelName] {
        var found: [RedisConfiguration.Endpoint: ChannelName] = [:]
        var index = 0
        while found.count < topology.primaries.count {
            let name = "\(prefix).\(index)"
            if let owner = topology.primary(ofSlot: RedisClusterSlot.of(name)), found[owner] == nil { found[owner] = try ChannelName(name) }
            index += 1
        }
        return topology.primaries.compactMap { found[$0] }
    }

    /// Checks what a channel holds: each event once, sequence numbers 1…N with no gap, and every
    /// acknowledged event at the sequence number of its receipt.
    static func expectIntact(_ router: Router, _ channel: ChannelName, acknowledged: [PublishReceipt]) async throws {
        let stored = try await router.read(channel, from: .sequence(1), limit: 100_000).map(\.envelope)
        let ids = stored.map(\.eventID)
        #expect(Set(ids).count == ids.count, "no event of \(channel) is stored twice")
        #expect(stored.map(\.sequenceNumber) == (stored.isEmpty ? [] : Array(1...Int64(stored.count))), "\(channel) is gap-free")
        let bySequence = Dictionary(stored.map { ($0.eventID, $0.sequenceNumber) }, uniquingKeysWith: { first, _ in first })
        for receipt in acknowledged where receipt.channel == channel {
            #expect(bySequence[receipt.eventID] == receipt.sequenceNumber, "acknowledged event \(receipt.eventID) of \(channel) is stored at its receipt's sequence")
        }
    }

    @Test func replicatedAcknowledgementsLoseNothingWhenAPrimaryIsKilledWhilePublishingAndConsuming() async throws {
                try await RedisTestServer.withPrivateDeployment {
            let cluster = try await ClusterDeployment.start()
            defer { cluster.stop() }
            let router = Self.router(url: cluster.url, acknowledge: .replicated)
            let channels = try Self.channels("test:cfail", onEachPrimaryOf: try await cluster.topology())
            let victimSlot = RedisClusterSlot.of(channels[0].rawValue)
            let victim = try #require(try await cluster.primaryPort(ofSlot: victimSlot))
            let handled = Mutex<Set<EventID>>([])
            let options = ConsumerOptions(batchSize: 32, visibilityTimeout: .seconds(2), claimInterval: .milliseconds(200), blockTimeout: .milliseconds(100))
            var acknowledged: [PublishReceipt] = []
            var refusals = 0
            var comeback: Task<Bool, any Error>?
            try await router.withConsumer(group: "failover", patterns: [try ChannelPattern("test:cfail.*")], options: options, handler: { envelope in
                _ = handled.withLock { $0.insert(envelope.eventID) }
            }) {
                for n in 1...150 {
                    if n == 61 {
                        cluster.kill(port: victim)
                        // The replica takes over the slots; the killed node then comes back as its replica,
                        // so `replicated` publishes to those slots are refused until it has synced.
                        comeback = Task {
                            let promoted = try await eventually(timeout: .seconds(30), every: .milliseconds(100)) {
                                (try? await cluster.primaryPort(ofSlot: victimSlot)).map { $0 != victim } ?? false
                            }
                            if promoted { try cluster.restart(port: victim) }
                            return promoted
                        }
                    }
                    let channel = channels[n % channels.count]
                    let (receipt, refused) = try await SentinelFailoverTests.publishUntilAcknowledged(router, channel, n)
                    refusals += refused
                    acknowledged.append(try #require(receipt, "event \(n) never acknowledged"))
                }
                #expect(try await comeback?.value == true, "the cluster promoted the killed primary's replica")
                let all = Set(acknowledged.map(\.eventID))
                let delivered = try await eventually(timeout: .seconds(60)) { handled.withLock { all.isSubset(of: $0) } }
                #expect(delivered, "every acknowledged event reached the group: \(all.subtracting(handled.withLock { $0 }).count) missing")
            }
            // Publishes to the killed primary's slots wait in the client, which retries the connection and
            // reads the slot map again until the replica has taken over; any the router refused were retried.
            _ = refusals
            #expect(try await cluster.primaryPort(ofSlot: victimSlot) != victim)
            for channel in channels { try await Self.expectIntact(router, channel, acknowledged: acknowledged) }
            let stored = try await channels.asyncMap { try await router.read($0, from: .sequence(1), limit: 1000).count }
            #expect(stored.reduce(0, +) == 150, "every acknowledged event is stored once, and nothing else")
        }
    }

    /// Nodes that speak TLS only (clients, replication and the cluster bus): the slot map names their
    /// TLS ports, and the router publishes, consumes a pattern across the primaries and follows the live feed.
    @Test func aClusterOverTLSWorksFromOneNodesURL() async throws {
        try await RedisTestServer.withPrivateDeployment {
            let tls = (
                certificate: try TestEnvironment.value("TLS_SERVER_CERT"), key: try TestEnvironment.value("TLS_SERVER_KEY"),
                certificateAuthority: try TestEnvironment.value("REDIS_TLS_CA"))
            let cluster = try await ClusterDeployment.start(tls: tls)
            defer { cluster.stop() }
            var redis = try RedisConfiguration(url: cluster.url)
            redis.tls = try .require(certificateAuthorityFile: tls.certificateAuthority)
            let client = try RedisClient(configuration: redis, logger: Logger(label: "test.cluster-tls"))
            let engine = RedisEngine(client: client, configuration: RedisEngine.Configuration(), logger: Logger(label: "test.cluster-tls"))
            RedisTestServer.runner?.yield(engine)
            let router = Router(contracts: Fixtures.contracts, engine: engine, configuration: RouterConfiguration(source: "tests"), logger: Logger(label: "test.router"))
            #expect(try await client.isCluster)
            let topology = try #require(client.knownClusterTopology)
            #expect(Set(topology.primaries.map(\.port)) == Set(cluster.ports.prefix(3)), "the slot map names the TLS ports")
            let channels = try Self.channels("test:ctls", onEachPrimaryOf: topology)
            let live = try await engine.liveEvents(matching: [try ChannelPattern("test:ctls.*")])
            let handled = Shared<[Envelope]>([])
            try await router.withConsumer(
                group: "tls", patterns: [try ChannelPattern("test:ctls.*")], options: ConsumerOptions(blockTimeout: .milliseconds(100)),
                handler: { envelope in handled.update { $0.append(envelope) } }
            ) {
                for (n, channel) in channels.enumerated() { _ = try await router.publish(to: channel, payload: Fixtures.payload(n)) }
                let all = try await eventually(timeout: .seconds(30)) { handled.value.count == channels.count }
                #expect(all, "the group read every primary's channel over TLS")
            }
            var seen: [ChannelName] = []
            for await envelope in live {
                seen.append(envelope.channel)
                if seen.count == channels.count { break }
            }
            #expect(Set(seen) == Set(channels), "the live feed saw every channel")
        }
    }

    /// `redis-cli --cluster reshard` moves a channel's slot (with its stream, sequence and every dedup
    /// key) while four publishers write to it: each publish is acknowledged once, in order, gap-free.
    @Test func aChannelsSlotMovesUnderPublishLoad() async throws {
        try await RedisTestServer.withPrivateDeployment {
            let cluster = try await ClusterDeployment.start()
            defer { cluster.stop() }
            let router = Self.router(url: cluster.url, acknowledge: .primary)
            let topology = try await cluster.topology()
            // The slot redis-cli moves first is the source's lowest: name a channel that hashes there.
            let source = topology.shards[0]
            let lowest = try #require(source.slots.map(\.lowerBound).min())
            var index = 0
            while RedisClusterSlot.of("test:reshard.\(index)") != lowest { index += 1 }
            let channel = try ChannelName("test:reshard.\(index)")
            let target = try #require(topology.primaries.first { $0 != source.primary })
            for n in 1...400 { _ = try await router.publish(to: channel, payload: Fixtures.payload(n)) }

            let receipts = Shared<[PublishReceipt]>([])
            let refusals = Shared(0)
            let publishing = Shared(true)
            let unacknowledged = Shared(0)
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                for publisher in 0..<4 {
                    tasks.addTask {
                        var n = 0
                        while publishing.value || n < 20 {
                            n += 1
                            let (receipt, refused) = try await SentinelFailoverTests.publishUntilAcknowledged(router, channel, 1000 * (publisher + 1) + n)
                            refusals.update { $0 += refused }
                            if let receipt { receipts.update { $0.append(receipt) } } else { unacknowledged.update { $0 += 1 } }
                        }
                    }
                }
                let output = try await cluster.reshard(from: source.primary.port, to: target.port, slots: 1, pipeline: 5)
                #expect(output.contains("Moving slot \(lowest)"), "redis-cli moved the channel's slot: \(output.suffix(300))")
                publishing.update { $0 = false }
                try await tasks.waitForAll()
            }
            #expect(try await cluster.primaryPort(ofSlot: lowest) == target.port)
            let acknowledged = receipts.value
            #expect(unacknowledged.value == 0, "every publish was acknowledged within 30 s")
            #expect(acknowledged.count >= 80)
            try await Self.expectIntact(router, channel, acknowledged: acknowledged)
            let stored = try await router.read(channel, from: .sequence(1), limit: 100_000)
            #expect(stored.count == 400 + acknowledged.count, "every publish is stored once")
            // Each publisher's own events are in the order it published them.
            for publisher in 0..<4 {
                let mine = stored.compactMap { event -> Int64? in
                    if case .int(let n) = event.envelope.data["n"] { return n }
                    return nil
                }.filter { $0 / 1000 == Int64(publisher + 1) }
                #expect(mine == mine.sorted())
            }
        }
    }
}

/// A value shared between tasks.
final class Shared<Value: Sendable>: Sendable {
    private let state: Mutex<Value>
    init(_ value: Value) { self.state = Mutex(value) }
    var value: Value { state.withLock { $0 } }
    func update(_ change: (inout Value) -> Void) { state.withLock { change(&$0) } }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
