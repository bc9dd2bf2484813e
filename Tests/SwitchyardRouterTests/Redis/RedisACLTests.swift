import Foundation
import JSONSchema
import NIOCore
import Logging
import RedisClient
import RedisTestSupport
import Switchyard
import SwitchyardRedis
import Testing

/// The ACL users generated from contracts, applied to the real redis-server: each service publishes
/// only to its own channels, reads only what it consumes, and a refusal is `permission_denied`,
/// never spooled.
@Suite("Redis ACL from the contracts")
struct RedisACLTests {
    @Test("one user per named service; `*` grants every service; passwords never appear in clear unless asked")
    func shippedContracts() throws {
        let contracts = try ContractRegistry.shipped()
        let users = try RedisACL().users(for: contracts) { _ in .sha256(String(repeating: "ab", count: 32)) }
        #expect(users.map(\.service) == RedisACL.services(in: contracts))
        #expect(!users.map(\.service).contains("*"))
        let executor = try #require(users.first { $0.service == "trade_executor" })
        #expect(executor.produces.map(\.rawValue).contains("trades:order_filled"))
        #expect(executor.consumes.map(\.rawValue).contains("trades:new_order"))
        // system:error_alert has producers ["*"]: every service may publish health and alerts.
        #expect(users.allSatisfy { $0.produces.map(\.rawValue).contains("system:error_alert") })
        #expect(!executor.produces.map(\.rawValue).contains("market_data:btc_price"))
        #expect(executor.line.hasPrefix("ACL SETUSER trade_executor reset on #abab"))
        #expect(executor.line.contains("~rate:{trades:order_filled}:trade_executor"))
        #expect(executor.line.contains("&trades:order_filled") && executor.line.contains("\"(~dlq:{"))
        let plain = try RedisACL(userPrefix: "sy-").users(for: contracts) { _ in .plain("pw") }
        #expect(plain.allSatisfy { $0.name.hasPrefix("sy-") && $0.rules.contains(">pw") })
        #expect("\(RedisACL.Password.plain("hunter2"))" == "plain(***)")
    }

    @Test("a service name, user prefix or channel pattern that would add ACL rules is refused, naming it")
    func unsafeNamesAreRefused() throws {
        func contracts(_ channel: String, producers: [String] = ["*"]) throws -> ContractRegistry {
            try ContractRegistry([
                try Contract(channel: ChannelPattern(channel), schema: Fixtures.schema, policy: ChannelPolicy(retentionSeconds: 60, producers: producers))
            ])
        }
        let service = #expect(throws: SwitchyardError.self) {
            try RedisACL().users(for: try contracts("test:orders", producers: ["ok", "x ~* +@all"])) { _ in .none }
        }
        #expect(service?.code == .invalidContract && service?.message.contains("'x ~* +@all' in 'producers'") == true, "\(service?.message ?? "")")
        let channel = #expect(throws: SwitchyardError.self) {
            try RedisACL().users(for: try contracts("test:* ~* +@all", producers: ["svc"])) { _ in .none }
        }
        #expect(channel?.code == .invalidContract)
        let prefix = #expect(throws: SwitchyardError.self) {
            try RedisACL(userPrefix: "p ~*").users(for: try contracts("test:orders", producers: ["svc"])) { _ in .none }
        }
        #expect(prefix?.code == .invalidContract)
        #expect(try RedisACL(userPrefix: "sy-").users(for: try contracts("test:orders", producers: ["svc.1_a-b"])) { _ in .none }.map(\.name) == ["sy-svc.1_a-b"])
    }

    @Test("the gateway's own user publishes, replays, subscribes, reads groups and dead letters; administrative commands are refused", .needs(.redis))
    func gatewayUser() async throws {
        try await EngineKind.redis.isolated {
            let tag = UUID().uuidString.prefix(8).lowercased()
            let user = try RedisACL().gatewayUser(named: "gw_\(tag)", password: .plain("pw-gw"))
            let admin = try RedisTestServer.client()
            _ = try await admin.execute(GenericCommand(arguments: user.command.map { ByteBuffer(string: $0) }))
            do {
                try await Self.exerciseGateway(user)
            } catch {
                _ = try? await admin.execute(GenericCommand("ACL", "DELUSER", user.name))
                throw error
            }
            _ = try await admin.execute(GenericCommand("ACL", "DELUSER", user.name))
        }
    }

    @Test("on a cluster, the gateway's user made on every node finds the slot map and works as on one server", .needs(.cluster))
    func gatewayUserOnTheCluster() async throws {
        try await EngineKind.cluster.isolated {
            let tag = UUID().uuidString.prefix(8).lowercased()
            let user = try RedisACL().gatewayUser(named: "gw_\(tag)", password: .plain("pw-gw"))
            let ports = try TestEnvironment.value("REDIS_CLUSTER_PORTS").split(separator: " ").compactMap { Int($0) }
            func onEveryNode(_ arguments: [String]) async throws {
                for port in ports {
                    let node = try await RedisConnection.connect(configuration: RedisConfiguration(host: "127.0.0.1", port: port), logger: Logger(label: "test.acl"))
                    _ = try await node.execute(GenericCommand(arguments: arguments.map { ByteBuffer(string: $0) }))
                    await node.close()
                }
            }
            try await onEveryNode(user.command)
            do {
                try await Self.exerciseGateway(user, server: "REDIS_CLUSTER_URL")
                #expect(try await Self.client(user.name, password: "pw-gw", server: "REDIS_CLUSTER_URL").isCluster)
            } catch {
                try? await onEveryNode(["ACL", "DELUSER", user.name])
                throw error
            }
            try await onEveryNode(["ACL", "DELUSER", user.name])
        }
    }

    static func exerciseGateway(_ user: RedisACL.User, server: String = "REDIS_URL") async throws {
        let (router, engine) = try Self.router(user.name, password: "pw-gw", contracts: Fixtures.contracts, spool: nil, server: server)
        let channel = Fixtures.channel("test:gw.orders")
        let live = try await engine.liveEvents(matching: [Fixtures.pattern("test:gw.*")])
        #expect(try await router.publish(to: channel, payload: Fixtures.payload(1)).sequenceNumber == 1)
        let received = try await withTimeout(.seconds(60)) { await live.first { _ in true } }
        #expect(received?.sequenceNumber == 1)
        #expect(try await router.replay(Fixtures.pattern("test:gw.*")).map(\.sequenceNumber) == [1])
        #expect(try await router.replay(Fixtures.pattern("test:gw.orders"), since: .sequence(1)).count == 1)
        #expect(try await router.latest(channel)?.sequenceNumber == 1)
        #expect(try await router.info(channel).length == 1)
        try await engine.createGroup("g", on: channel, start: .beginning)
        let deliveries = try await engine.readGroup(GroupReadRequest(group: "g", consumer: "c", channels: [channel], count: 10, block: nil))
        #expect(try await engine.groupInfo("g", on: channel).pending == 1)
        let letter = try #require(deliveries.first)
        try await engine.deadLetter(DeadLetterRequest(group: "g", delivery: letter, error: ["error_type": "test"], deliveries: 1))
        let letters = try await engine.deadLetters(channel, limit: 10)
        #expect(try await engine.requeueDeadLetters(channel, ids: letters.map(\.id)) == 1)

        let raw = try Self.client(user.name, password: "pw-gw", server: server)
        for command in [["FLUSHALL"], ["CONFIG", "GET", "maxmemory"], ["KEYS", "*"], ["DEL", "stream:{\(channel.rawValue)}"], ["GET", "other:key"]] {
            let refused = await #expect(throws: RedisError.self) { try await raw.execute(GenericCommand(arguments: command.map { ByteBuffer(string: $0) })) }
            #expect(refused?.serverErrorPrefix == "NOPERM", "\(command)")
        }
    }

    @Test("a service publishes only to its channels and reads only what it consumes; NOPERM is refused, not spooled", .needs(.redis))
    func appliedToTheServer() async throws {
        try await RedisTestServer.shared {
            let tag = UUID().uuidString.prefix(8).lowercased()
            let mine = try ChannelName("test:acl\(tag).orders"), theirs = try ChannelName("test:acl\(tag).fills")
            let producer = "acl_producer_\(tag)", consumer = "acl_consumer_\(tag)"
            let contracts = try ContractRegistry([
                try Contract(channel: ChannelPattern(mine.rawValue), schema: Fixtures.schema,
                             policy: ChannelPolicy(retentionSeconds: 60, producers: [producer], consumers: [consumer])),
                try Contract(channel: ChannelPattern(theirs.rawValue), schema: Fixtures.schema,
                             policy: ChannelPolicy(retentionSeconds: 60, producers: [consumer], consumers: [consumer])),
            ])
            let admin = try RedisTestServer.client()
            let users = try RedisACL().users(for: contracts) { .plain("pw-\($0)") }
            for user in users { _ = try await admin.execute(GenericCommand(arguments: user.command.map { ByteBuffer(string: $0) })) }
            do {
                try await Self.exercise(users: users, contracts: contracts, mine: mine, theirs: theirs, tag: String(tag), admin: admin)
            } catch {
                _ = try? await admin.execute(GenericCommand(arguments: (["ACL", "DELUSER"] + users.map(\.name)).map { ByteBuffer(string: $0) }))
                throw error
            }
            _ = try await admin.execute(GenericCommand(arguments: (["ACL", "DELUSER"] + users.map(\.name)).map { ByteBuffer(string: $0) }))
        }
    }

    static func exercise(users: [RedisACL.User], contracts: ContractRegistry, mine: ChannelName, theirs: ChannelName, tag: String, admin: RedisClient) async throws {
        let producer = users[1].service, consumer = users[0].service

        let spool = FileManager.default.temporaryDirectory.appendingPathComponent("acl-\(tag).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: spool) }
        let (producerRouter, producerEngine) = try Self.router(producer, password: "pw-\(producer)", contracts: contracts, spool: spool)
        let receipt = try await producerRouter.publish(to: mine, payload: Fixtures.payload(1))
        #expect(receipt.sequenceNumber == 1)
        let refused = await #expect(throws: SwitchyardError.self) { try await producerRouter.publish(to: theirs, payload: Fixtures.payload(2)) }
        #expect(refused?.code == .permissionDenied)
        #expect(refused?.message.contains("ACL") == true && refused?.message.contains("NOPERM") == true, "\(refused?.message ?? "")")
        #expect(try await producerEngine.spoolDepth == 0, "a NOPERM publish is refused, never spooled")
        let groupRefused = await #expect(throws: SwitchyardError.self) { try await producerEngine.createGroup("g", on: mine, start: .beginning) }
        #expect(groupRefused?.code == .permissionDenied, "the producer does not consume its channel")

        let (_, consumerEngine) = try Self.router(consumer, password: "pw-\(consumer)", contracts: contracts, spool: nil)
        try await consumerEngine.createGroup("g", on: mine, start: .beginning)
        let deliveries = try await consumerEngine.readGroup(GroupReadRequest(group: "g", consumer: "c1", channels: [mine], count: 10, block: nil))
        #expect(deliveries.map(\.envelope.sequenceNumber) == [1])
        #expect(deliveries.first?.envelope.source == producer)
        let letter = try #require(deliveries.first)
        try await consumerEngine.deadLetter(DeadLetterRequest(group: "g", delivery: letter, error: ["error_type": "test"], deliveries: 1))
        #expect(try await admin.execute(GenericCommand("XLEN", "dlq:{\(mine.rawValue)}")).int == 1, "dead-lettering works under the ACL")
        let stranger = try ChannelName("test:acl\(tag).other")
        let readRefused = await #expect(throws: SwitchyardError.self) { try await consumerEngine.createGroup("g", on: stranger, start: .beginning) }
        #expect(readRefused?.code == .permissionDenied)
        // The consumer may not write to the stream it reads, not even from a script of its own.
        let raw = try Self.client(consumer, password: "pw-\(consumer)")
        let xadd = await #expect(throws: RedisError.self) { try await raw.execute(GenericCommand("XADD", "stream:{\(mine.rawValue)}", "*", "envelope", "x")) }
        #expect(xadd?.serverErrorPrefix == "NOPERM")

        let (wrongRouter, wrongEngine) = try Self.router(producer, password: "not-the-password", contracts: contracts, spool: spool)
        let wrong = await #expect(throws: SwitchyardError.self) { try await wrongRouter.publish(to: mine, payload: Fixtures.payload(3)) }
        #expect(wrong?.code == .permissionDenied, "\(wrong?.description ?? "")")
        #expect(try await wrongEngine.spoolDepth == 0, "refused credentials are not an outage: nothing is spooled")
        #expect(wrong?.description.contains("not-the-password") == false)
    }

    static func client(_ user: String, password: String, server: String = "REDIS_URL") throws -> RedisClient {
        var configuration = try TestEnvironment.configuration(server)
        configuration.username = user
        configuration.password = password
        return try RedisClient(configuration: configuration, logger: Logger(label: "test.acl"))
    }

    static func router(
        _ service: String, password: String, contracts: ContractRegistry, spool: String?, server: String = "REDIS_URL"
    ) throws -> (Router, RedisEngine) {
        let engine = RedisEngine(
            client: try client(service, password: password, server: server), configuration: .init(spool: spool.map { .init(path: $0) }),
            logger: Logger(label: "test.acl"))
        RedisTestServer.runner?.yield(engine)
        let router = Router(contracts: contracts, engine: engine, configuration: RouterConfiguration(source: service), logger: Logger(label: "test.acl"))
        return (router, engine)
    }
}
