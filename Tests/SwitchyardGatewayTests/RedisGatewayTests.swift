import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JSONSchema
import NIOCore
import RedisClient
import RedisTestSupport
import Switchyard
import SwitchyardGateway
import SwitchyardRedis
import Testing

/// The publish and replay routes on the Redis engine, against the redis-server `scripts/test` starts.
@Suite(.needs(.redis)) struct RedisGatewayTests {
    @Test func publishAndReplayOnTheRedisEngine() async throws {
        let configuration = try TestEnvironment.configuration("REDIS_URL")
        try await RedisServerGate.shared.shared { try await Self.run(configuration) }
    }

    /// The same routes with the gateway connected as its own ACL user (`switchyard acl --gateway-user`),
    /// which is refused anything administrative.
    @Test func publishAndReplayAsTheGatewaysACLUser() async throws {
        let base = try TestEnvironment.configuration("REDIS_URL")
        try await RedisServerGate.shared.shared {
            var configuration = base
            let admin = try RedisClient(configuration: configuration, logger: TestGateway.logger)
            let user = try RedisACL().gatewayUser(named: "gw-\(UUID().uuidString.prefix(8).lowercased())", password: .plain("gw-pass"))
            _ = try await admin.execute(GenericCommand(arguments: user.command.map { ByteBuffer(string: $0) }))
            configuration.username = user.name
            configuration.password = "gw-pass"
            do {
                try await Self.run(configuration)
                let limited = try RedisClient(configuration: configuration, logger: TestGateway.logger)
                for command in [["FLUSHALL"], ["CONFIG", "SET", "appendonly", "no"], ["ACL", "LIST"]] {
                    let refused = await #expect(throws: RedisError.self) {
                        try await limited.execute(GenericCommand(arguments: command.map { ByteBuffer(string: $0) }))
                    }
                    #expect(refused?.serverErrorPrefix == "NOPERM", "\(command)")
                }
            } catch {
                _ = try? await admin.execute(GenericCommand("ACL", "DELUSER", user.name))
                throw error
            }
            _ = try await admin.execute(GenericCommand("ACL", "DELUSER", user.name))
        }
    }

    static func run(_ configuration: RedisConfiguration) async throws {
        let engine = RedisEngine(client: try RedisClient(configuration: configuration, logger: TestGateway.logger), logger: TestGateway.logger)
        let gateway = try TestGateway(allowsUnknownChannels: true, engine: engine)
        let channel = "gwtest:\(UUID().uuidString.prefix(8).lowercased())"
        // Router calls work without run(); the app.test(.router) client runs no services.
        try await gateway.test { client in
            let key: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "redis-\(channel)"]
            let first = try await client.send(.post, "/v1/channels/\(channel)/events", body: #"{"n":1}"#, headers: key)
            #expect(first.status == .created, "\(first.json)")
            #expect(first.json["sequence_number"] == 1)
            let again = try await client.send(.post, "/v1/channels/\(channel)/events", body: #"{"n":1}"#, headers: key)
            #expect(again.status == .ok && again.json["duplicate"] == true)
            let second = try await client.send(.post, "/v1/channels/\(channel)/events", body: #"{"n":2}"#)
            #expect(second.json["sequence_number"] == 2)
            let replay = try await client.send(.get, "/replay?channel=\(channel)&since=2025-08-01T00:00:00Z")
            #expect(replay.json["events"]?.arrayValue?.map { $0["data"] } == [["n": 1], ["n": 2]])
            let latest = try await client.send(.get, "/v1/channels/\(channel)/latest")
            #expect(latest.json["sequence_number"] == 2)
            let channels = try await client.send(.get, "/v1/channels")
            let listed = channels.json["channels"]?.arrayValue?.first { $0["channel"]?.stringValue == channel }
            let rate = try #require(listed?["publish_rate"]?["60s"]?.doubleValue)
            #expect(rate > 0 && rate * 60 <= 2.000001)
            let ready = try await client.send(.get, "/readyz")
            #expect(ready.status == .ok && ready.json["engine"] == "redis")
        }
    }
}
