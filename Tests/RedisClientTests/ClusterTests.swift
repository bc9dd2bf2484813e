import Foundation
import Logging
import NIOCore
import NIOPosix
import RESP
import RedisTestSupport
import Testing

@testable import RedisClient

/// Hash slots and the cluster URL forms, with no server.
@Suite struct ClusterSlotTests {
    @Test func slotsAreCRC16OfTheKeyOrItsHashTag() {
        // The reference value of CRC16/XMODEM for "123456789" is 0x31C3.
        #expect(RedisClusterSlot.of("123456789") == 0x31C3 & 0x3FFF)
        #expect(RedisClusterSlot.of("") == 0)
        #expect(RedisClusterSlot.of("{user1000}.following") == RedisClusterSlot.of("{user1000}.followers"))
        #expect(RedisClusterSlot.of("{user1000}.following") == RedisClusterSlot.of("user1000"))
        // Rules of the cluster specification: an empty tag hashes the whole key; the first `}` closes the tag.
        #expect(RedisClusterSlot.of("foo{}{bar}") != RedisClusterSlot.of("bar"))
        #expect(RedisClusterSlot.of("foo{{bar}}zap") == RedisClusterSlot.of("{bar"))
        #expect(RedisClusterSlot.of("foo{bar}{zap}") == RedisClusterSlot.of("bar"))
        #expect(RedisClusterSlot.of("stream:{orders}") == RedisClusterSlot.of("seq:{orders}"))
    }

    @Test func aURLMayNameSeveralNodes() throws {
        let configuration = try RedisConfiguration(url: "redis://user:secret@10.0.0.1:7000,10.0.0.2:7001,[::1]:7002,node4/2")
        #expect(configuration.host == "10.0.0.1")
        #expect(configuration.port == 7000)
        #expect(configuration.username == "user")
        #expect(configuration.password == "secret")
        #expect(configuration.database == 2)
        #expect(configuration.seeds == [.init(host: "10.0.0.2", port: 7001), .init(host: "::1", port: 7002), .init(host: "node4", port: 6379)])
        #expect(configuration.description == "redis://user:***@10.0.0.1:7000,10.0.0.2:7001,[::1]:7002,node4:6379/2")
        #expect(throws: RedisError.self) { try RedisConfiguration(url: "redis://10.0.0.1:7000,,10.0.0.2") }
        #expect(throws: RedisError.self) { try RedisConfiguration(url: "redis://10.0.0.1:7000,10.0.0.2:port") }
    }

    @Test func redirectionsAreRead() {
        let node = RedisConfiguration.Endpoint(host: "10.0.0.9", port: 7000)
        let moved = RedisClusterRedirect(RedisError(.serverError, serverMessage: "MOVED 3999 127.0.0.1:6381"), replying: node)
        #expect(moved == RedisClusterRedirect(kind: .moved, slot: 3999, endpoint: .init(host: "127.0.0.1", port: 6381)))
        let ask = RedisClusterRedirect(RedisError(.serverError, serverMessage: "ASK 12 :6390"), replying: node)
        #expect(ask == RedisClusterRedirect(kind: .ask, slot: 12, endpoint: .init(host: "10.0.0.9", port: 6390)))
        #expect(RedisClusterRedirect(RedisError(.serverError, serverMessage: "MOVED 99999 127.0.0.1:1"), replying: node) == nil)
        #expect(RedisClusterRedirect(RedisError(.serverError, serverMessage: "ERR unknown"), replying: node) == nil)
        #expect(RedisError(.serverError, serverMessage: "TRYAGAIN Multiple keys request during rehashing of slot").isClusterRedirection)
        #expect(!RedisError(.serverError, serverMessage: "NOSCRIPT No matching script").isClusterRedirection)
    }

    @Test func generalCommandsFindTheirKey() {
        #expect(GenericCommand("EXISTS", "stream:{a}").routingKey == "stream:{a}")
        #expect(GenericCommand("XINFO", "GROUPS", "stream:{a}").routingKey == "stream:{a}")
        #expect(GenericCommand("EVALSHA", "abc", "2", "k1", "k2", "arg").routingKey == "k1")
        #expect(GenericCommand("EVALSHA", "abc", "0", "arg").routingKey == nil)
        #expect(GenericCommand("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s1", ">").routingKey == "s1")
        #expect(GenericCommand("PING").routingKey == nil)
        #expect(GenericCommand("PUBLISH", "chan", "x").routingKey == nil)
        #expect(XADD("stream:{b}", fields: []).routingKey == "stream:{b}")
    }
}

/// The client on the Redis Cluster `scripts/test` starts: three primaries, three replicas.
@Suite(.serialized, .timeLimit(.minutes(5)), .needs(.cluster)) struct ClusterTests {
    static func configuration(_ url: String? = nil) throws -> RedisConfiguration {
        var configuration = try RedisConfiguration(url: try url ?? TestEnvironment.value("REDIS_CLUSTER_URL"))
        configuration.connectTimeout = .seconds(2)
        configuration.commandTimeout = .seconds(10)
        return configuration
    }

    static var ports: [Int] {
        get throws { try TestEnvironment.value("REDIS_CLUSTER_PORTS").split(separator: " ").compactMap { Int($0) } }
    }

    /// A direct connection to one node, for checks behind the client's back.
    static func node(_ port: Int) async throws -> RedisConnection {
        try await RedisConnection.connect(configuration: RedisConfiguration(host: "127.0.0.1", port: port), logger: Logger(label: "test.cluster"))
    }

    @Test func oneNodesURLFindsTheClusterAndItsSlotMap() async throws {
        try await runClient(try Self.configuration()) { client throws in
            #expect(try await client.isCluster)
            let topology = try #require(try await client.clusterTopology())
            #expect(topology.shards.count == 3)
            #expect(topology.coversAllSlots)
            #expect(topology.shards.allSatisfy { $0.replicas.count == 1 })
            #expect(Set(topology.primaries.map(\.port)) == Set(try Self.ports.prefix(3)))
        }
        let single = try RedisClient(configuration: try RedisConfiguration(url: try TestEnvironment.value("REDIS_URL")), logger: Logger(label: "test"))
        #expect(try await !single.isCluster)
        #expect(try await single.clusterTopology() == nil)
    }

    @Test func commandsRunOnTheNodeThatOwnsTheirKey() async throws {
        try await runClient(try Self.configuration()) { client throws in
            let prefix = TestEnvironment.uniqueKey("cluster")
            let keys = (0..<60).map { "\(prefix):\($0)" }
            let topology = try #require(try await client.clusterTopology())
            for key in keys { #expect(try await client.execute(SET(key, value: "v-\(key)"))) }
            var nodesUsed = Set<Int>()
            for key in keys {
                #expect(try await client.execute(GET(key)).map { String(buffer: $0) } == "v-\(key)")
                // The key is where the slot map says, and the server agrees on its slot.
                let owner = try #require(topology.primary(ofSlot: RedisClusterSlot.of(key)))
                let connection = try await Self.node(owner.port)
                #expect(try await connection.execute(GenericCommand("CLUSTER", "KEYSLOT", key)).int == RedisClusterSlot.of(key))
                #expect(try await connection.execute(GET(key)).map { String(buffer: $0) } == "v-\(key)")
                await connection.close()
                nodesUsed.insert(owner.port)
            }
            #expect(nodesUsed.count == 3)
            // Keys in one slot may share a pipeline; withConnectionPerNode splits keys of several nodes.
            let groups = try await client.withConnectionPerNode(forKeys: keys) { _, indices in indices }.map(\.result)
            #expect(groups.count == 3)
            #expect(groups.flatMap { $0 }.sorted() == Array(keys.indices))
            // A scan over the whole keyspace runs on every primary.
            let found = try await client.forEachPrimary { connection in
                try await connection.execute(SCAN(cursor: "0", pattern: "\(prefix):*", count: 10_000)).keys.count
            }
            #expect(found.count == 3)
            #expect(try await client.execute(DEL(keys: [keys[0]])) == 1)
        }
    }

    /// A pipeline over keys of every primary: one pipeline per node, replies in the order given,
    /// an error reply kept in its place; a command whose slot moved since the map was read runs again.
    @Test func pipelinesAreSplitByNodeAndReassembledInOrder() async throws {
        try await runClient(try Self.configuration()) { client throws in
            let prefix = TestEnvironment.uniqueKey("cluster-pipeline")
            let keys = (0..<40).map { "\(prefix):\($0)" }
            let sets = try await client.pipeline(keys.map { SET($0, value: "v-\($0)") })
            #expect(sets.allSatisfy { (try? $0.get()) == true })
            var commands = keys.map { GenericCommand("GET", $0) }
            commands.insert(GenericCommand("HGET", keys[5], "field"), at: 6)   // WRONGTYPE, in its place
            let replies = try await client.pipeline(commands)
            #expect(replies.count == 41)
            for (index, reply) in replies.enumerated() where index != 6 {
                let key = index < 6 ? keys[index] : keys[index - 1]
                #expect((try? reply.get())?.string == "v-\(key)", "reply \(index) is \(key)'s")
            }
            guard case .failure(let error) = replies[6] else {
                Issue.record("HGET on a string should fail")
                return
            }
            #expect(error.serverErrorPrefix == "WRONGTYPE")
        }
    }

    /// A command of the caller's own that does not name its key: as the first command of a new
    /// client (before it knows it is on a cluster) and after, it is redirected to the key's node.
    @Test func aCommandThatNamesNoKeyFollowsItsRedirection() async throws {
        struct Unrouted: RedisCommand {
            typealias Response = RESPValue
            var words: [String]
            func encode(into encoder: inout RESPCommandEncoder) {
                encoder.encodeArrayHeader(count: words.count)
                for word in words { encoder.encodeBulk(word) }
            }
        }
        let keys = (0..<12).map { "\(TestEnvironment.uniqueKey("unrouted")):\($0)" }
        for key in keys {
            let client = try RedisClient(configuration: try Self.configuration(), logger: Logger(label: "test.cluster"))
            #expect(try await client.execute(Unrouted(words: ["SET", key, "x"])).string == "OK", "the first command, \(key)")
            #expect(try await client.execute(Unrouted(words: ["GET", key])).string == "x", "a later command, \(key)")
        }
    }

    @Test func scriptsAreLoadedOnEachNodeThatLacksThem() async throws {
        for port in try Self.ports.prefix(3) {
            let connection = try await Self.node(port)
            _ = try await connection.execute(GenericCommand("SCRIPT", "FLUSH"))
            await connection.close()
        }
        let script = RedisScript("return redis.call('INCR', KEYS[1])")
        try await runClient(try Self.configuration()) { client throws in
            let prefix = TestEnvironment.uniqueKey("cluster-script")
            for index in 0..<12 {
                #expect(try await client.execute(script, keys: ["\(prefix):\(index)"]).int == 1)
            }
        }
    }

    /// A slot moved behind the client's back answers `MOVED`: the client follows it and fixes its map;
    /// while the slot is being migrated, a key already moved answers `ASK`, and the client asks the target.
    @Test func movedAndAskRedirectionsAreFollowed() async throws {
        try await runClient(try Self.configuration()) { client throws in
            let key = "{\(TestEnvironment.uniqueKey("cluster-move"))}:value"
            let slot = RedisClusterSlot.of(key)
            #expect(try await client.execute(SET(key, value: "before")))
            let topology = try #require(try await client.clusterTopology())
            let source = try #require(topology.primary(ofSlot: slot))
            let target = try #require(topology.primaries.first { $0 != source })
            let migration = try await SlotMigration(slot: slot, from: source.port, to: target.port)

            try await migration.begin()
            try await migration.moveKeys()
            // The map still names the source, which answers ASK for a key it no longer holds.
            #expect(client.clusterRouterForTests?.topology.primary(ofSlot: slot) == source)
            #expect(try await client.execute(GET(key)).map { String(buffer: $0) } == "before")
            #expect(try await client.withConnection(forKey: key) { try await $0.execute(GET(key)) }.map { String(buffer: $0) } == "before")
            // In a pipeline the ASK reply comes back as the command's reply, and the command runs again on its own.
            let piped = try await client.pipeline([GET(key)])
            #expect(piped.count == 1)
            #expect(try piped[0].get().map { String(buffer: $0) } == "before")

            try await migration.finish()
            // Now the source answers MOVED, and the client learns the new owner.
            #expect(try await client.execute(SET(key, value: "after")))
            #expect(client.clusterRouterForTests?.topology.primary(ofSlot: slot) == target)
            let direct = try await Self.node(target.port)
            #expect(try await direct.execute(GET(key)).map { String(buffer: $0) } == "after")
            await direct.close()

            // Back where it was, so the cluster is as the other tests found it.
            let back = try await SlotMigration(slot: slot, from: target.port, to: source.port)
            try await back.begin()
            try await back.moveKeys()
            try await back.finish()
            #expect(try await client.execute(GET(key)).map { String(buffer: $0) } == "after")
        }
    }

    @Test func aSeedThatIsDownIsPassedOver() async throws {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let deadPort = channel.localAddress?.port ?? 0
        try await channel.close()
        let ports = try Self.ports
        let configuration = try Self.configuration("redis://127.0.0.1:\(deadPort),127.0.0.1:\(ports[1])")
        try await runClient(configuration) { client throws in
            #expect(try await client.isCluster)
            let key = TestEnvironment.uniqueKey("cluster-seed")
            #expect(try await client.execute(SET(key, value: "x")))
            #expect(try await client.execute(GET(key)).map { String(buffer: $0) } == "x")
        }
    }

    @Test func aPublishReachesSubscribersOnAnyNode() async throws {
        try await runClient(try Self.configuration()) { client throws in
            let channel = TestEnvironment.uniqueKey("cluster-channel")
            try await client.subscribe(to: [channel]) { subscription throws in
                var iterator = subscription.makeAsyncIterator()
                // Published on every primary in turn: the cluster bus carries it to the subscriber's node.
                for port in try Self.ports.prefix(3) {
                    let connection = try await Self.node(port)
                    _ = try await connection.execute(PUBLISH(channel, message: "from \(port)"))
                    await connection.close()
                    #expect(try await iterator.next()?.message.map { String(buffer: $0.payload) } == "from \(port)")
                }
            }
        }
    }

    /// With `readsFromReplicas`, read-only commands go to the replicas (which sent `READONLY`), writes to the primaries.
    @Test func readsMayGoToReplicas() async throws {
        var configuration = try Self.configuration()
        configuration.cluster.readsFromReplicas = true
        let name = "replica-reader-\(UUID().uuidString.prefix(8).lowercased())"
        configuration.clientName = name
        let ports = try Self.ports
        /// This client's connections to a node: their last command and flags, from `CLIENT LIST`.
        @Sendable func connections(_ port: Int) async throws -> [(command: String, flags: String)] {
            let connection = try await Self.node(port)
            defer { Task { await connection.close() } }
            let list = try await connection.execute(GenericCommand("CLIENT", "LIST")).string ?? ""
            return list.split(separator: "\n").filter { $0.contains("name=\(name) ") }.map { line in
                func field(_ key: String) -> String {
                    line.split(separator: " ").first { $0.hasPrefix("\(key)=") }.map { String($0.dropFirst(key.count + 1)) } ?? ""
                }
                return (field("cmd"), field("flags"))
            }
        }
        try await runClient(configuration) { client throws in
            let prefix = TestEnvironment.uniqueKey("replica-read")
            let keys = (0..<30).map { "\(prefix):\($0)" }
            for key in keys {
                // Written on the primary, and on a replica before the read.
                let replicated = try await client.withConnection(forKey: key) { connection in
                    _ = try await connection.execute(SET(key, value: "v-\(key)"))
                    return try await connection.execute(WAIT(replicas: 1, timeout: .seconds(5)))
                }
                #expect(replicated == 1)
            }
            for key in keys { #expect(try await client.execute(GET(key)).map { String(buffer: $0) } == "v-\(key)") }
            let onPrimaries = try await Array(ports.prefix(3)).asyncMap { try await connections($0) }.joined()
            let onReplicas = try await Array(ports.suffix(3)).asyncMap { try await connections($0) }.joined()
            #expect(!onPrimaries.isEmpty && onPrimaries.allSatisfy { $0.command != "get" }, "no GET ran on a primary: \(onPrimaries)")
            #expect(onReplicas.count >= 3, "a connection to each replica: \(onReplicas)")
            #expect(onReplicas.allSatisfy { $0.command == "get" && $0.flags.contains("r") }, "the replicas served the GETs, in READONLY mode: \(onReplicas)")
        }
    }

    /// `SSUBSCRIBE` on the node of each channel's slot, `SPUBLISH` routed to it; when a channel's slot
    /// moves, the node unsubscribes it, and the client subscribes again on the new node with a gap.
    @Test func shardChannelsAreFollowedToTheNodeOfTheirSlot() async throws {
        try await runClient(try Self.configuration()) { client throws in
            let topology = try #require(try await client.clusterTopology())
            // One channel on each primary.
            var channels: [String] = []
            var index = 0
            let prefix = TestEnvironment.uniqueKey("shard")
            while channels.count < 3 {
                let name = "\(prefix).\(index)"
                let owner = topology.primary(ofSlot: RedisClusterSlot.of(name))
                if !channels.contains(where: { topology.primary(ofSlot: RedisClusterSlot.of($0)) == owner }) { channels.append(name) }
                index += 1
            }
            try await client.subscribe(toShardChannels: channels) { subscription throws in
                var iterator = subscription.makeAsyncIterator()
                for channel in channels {
                    #expect(try await client.execute(SPUBLISH(channel, message: "to \(channel)")) == 1, "one shard subscriber on \(channel)'s node")
                    let message = try #require(try await iterator.next()?.message)
                    #expect(message.channel == channel && message.isSharded && String(buffer: message.payload) == "to \(channel)")
                }

                let moving = channels[0]
                let slot = RedisClusterSlot.of(moving)
                let source = try #require(topology.primary(ofSlot: slot))
                let target = try #require(topology.primaries.first { $0 != source })
                let migration = try await SlotMigration(slot: slot, from: source.port, to: target.port)
                try await migration.begin()
                try await migration.moveKeys()
                try await migration.finish()
                #expect(try await iterator.next()?.gap?.reason == .moved, "the client says messages may have been missed while it moved")
                #expect(try await client.execute(SPUBLISH(moving, message: "after the move")) == 1, "subscribed again on the new node")
                #expect(try await iterator.next()?.message.map { String(buffer: $0.payload) } == "after the move")
                #expect(client.knownClusterTopology?.primary(ofSlot: slot) == target)

                let back = try await SlotMigration(slot: slot, from: target.port, to: source.port)
                try await back.begin()
                try await back.moveKeys()
                try await back.finish()
                #expect(try await iterator.next()?.gap?.reason == .moved)
                #expect(try await client.execute(SPUBLISH(moving, message: "back")) == 1)
                #expect(try await iterator.next()?.message.map { String(buffer: $0.payload) } == "back")
            }
        }
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}

/// Moves one hash slot between two primaries the way `redis-cli --cluster reshard` does.
struct SlotMigration {
    let slot: Int
    let source: Int
    let target: Int
    let sourceID: String
    let targetID: String

    init(slot: Int, from source: Int, to target: Int) async throws {
        self.slot = slot
        self.source = source
        self.target = target
        self.sourceID = try await Self.run(source, "CLUSTER", "MYID").string ?? ""
        self.targetID = try await Self.run(target, "CLUSTER", "MYID").string ?? ""
    }

    /// `IMPORTING` on the target, `MIGRATING` on the source.
    func begin() async throws {
        _ = try await Self.run(target, "CLUSTER", "SETSLOT", "\(slot)", "IMPORTING", sourceID)
        _ = try await Self.run(source, "CLUSTER", "SETSLOT", "\(slot)", "MIGRATING", targetID)
    }

    /// `MIGRATE` of every key of the slot.
    func moveKeys() async throws {
        while true {
            let keys = try await Self.run(source, "CLUSTER", "GETKEYSINSLOT", "\(slot)", "100").elements?.compactMap(\.string) ?? []
            if keys.isEmpty { return }
            _ = try await Self.run(source, ["MIGRATE", "127.0.0.1", "\(target)", "", "0", "5000", "KEYS"] + keys)
        }
    }

    /// `SETSLOT … NODE` on the target, the source, and every other node.
    func finish() async throws {
        let ports = try TestEnvironment.value("REDIS_CLUSTER_PORTS").split(separator: " ").compactMap { Int($0) }
        for port in [target, source] + ports.filter({ $0 != target && $0 != source }) {
            _ = try? await Self.run(port, "CLUSTER", "SETSLOT", "\(slot)", "NODE", targetID)
        }
    }

    static func run(_ port: Int, _ arguments: String...) async throws -> RESPValue {
        try await run(port, arguments)
    }

    static func run(_ port: Int, _ arguments: [String]) async throws -> RESPValue {
        let connection = try await ClusterTests.node(port)
        defer { Task { await connection.close() } }
        return try await connection.execute(GenericCommand(arguments: arguments.map { ByteBuffer(string: $0) }))
    }
}
