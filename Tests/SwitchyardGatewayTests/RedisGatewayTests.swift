import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JSONSchema
import RedisClient
import RedisTestSupport
import Switchyard
import SwitchyardGateway
import SwitchyardRedis
import Testing

/// The publish and replay routes on the Redis engine, against the redis-server `scripts/test` starts.
@Suite struct RedisGatewayTests {
    @Test func publishAndReplayOnTheRedisEngine() async throws {
        let configuration = try TestEnvironment.configuration("REDIS_URL")
        try await RedisServerGate.shared.shared { try await Self.run(configuration) }
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
