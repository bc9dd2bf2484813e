import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import JSONSchema
import Logging
import RedisClient
import RedisTestSupport
import Switchyard
import SwitchyardGateway
import SwitchyardRedis
import Testing

/// `switchyard tail` against Redis and against a live gateway.
@Suite struct TailCommandTests {
    static let logger = Logger(label: "tail-tests")

    static func run(_ arguments: [String]) async -> CLITests.Result {
        (try? await CLITests().run(arguments)) ?? CLITests.Result(status: -1, stdout: "", stderr: "could not start the binary")
    }

    static func lines(_ text: String) -> [String] {
        text.split(separator: "\n").map(String.init)
    }

    @Test(.needs(.redis)) func tailFollowsRedisFromASequenceNumberOrATime() async throws {
        let url = try TestEnvironment.value("REDIS_URL")
        try await RedisServerGate.shared.shared {
            let engine = RedisEngine(client: try RedisClient(configuration: try TestEnvironment.configuration(), logger: Self.logger), logger: Self.logger)
            let router = Switchyard.Router(
                contracts: try ContractRegistry([]), engine: engine,
                configuration: RouterConfiguration(source: "tail-tests", allowsUnknownChannels: true), logger: Self.logger)
            let channel = try ChannelName("events:tail_\(UUID().uuidString.prefix(8).lowercased())")
            let started = router.now
            for n in 1...3 { try await router.publish(to: channel, payload: ["n": .int(Int64(n))]) }

            let json = await Self.run(["tail", "--redis", url, "\(channel)*", "--since", "2", "--count", "2", "--json"])
            #expect(json.status == 0, "\(json.stderr)")
            let envelopes = try Self.lines(json.stdout).map { try Envelope(decoding: $0) }
            #expect(envelopes.map(\.sequenceNumber) == [2, 3])
            #expect(envelopes.map { $0.data["n"] } == [2, 3])

            let pretty = await Self.run(["tail", "--redis", url, channel.rawValue, "--since", started.description, "--count", "3"])
            #expect(pretty.status == 0, "\(pretty.stderr)")
            let lines = Self.lines(pretty.stdout)
            #expect(lines.count == 3)
            #expect(lines.first?.contains(" \(channel) #1 {\"n\":1}") == true, "\(lines)")
        }
    }

    @Test func tailFollowsAGatewayOverWebSocket() async throws {
        let router = Switchyard.Router(
            contracts: try ContractRegistry([]), engine: EmbeddedEngine(logger: Self.logger),
            configuration: RouterConfiguration(source: "tail-tests", allowsUnknownChannels: true), logger: Self.logger)
        let app = try buildApplication(router: router, configuration: GatewayConfiguration(port: 0, authenticator: OpenAuthenticator()), logger: Self.logger)
        let channel = try ChannelName("events:tail_ws")
        for n in 1...3 { try await router.publish(to: channel, payload: ["n": .int(Int64(n))]) }
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let result = await Self.run(["tail", "--server", "http://127.0.0.1:\(port)", channel.rawValue, "--since", "2", "--count", "2", "--json"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(try Self.lines(result.stdout).map { try Envelope(decoding: $0).sequenceNumber } == [2, 3])

            let refused = await Self.run(["tail", "--server", "http://127.0.0.1:\(port)", ""])
            #expect(refused.status == 64, "an invalid pattern is a usage error")
        }
    }

    @Test func tailReportsEventsTheGatewayWithheldOnStandardError() async throws {
        let keys = try KeyRing([try SecretKey(id: "tail-1", secret: Array(repeating: 5, count: 32))], purpose: .signing)
        let engine = EmbeddedEngine(logger: Self.logger)
        let router = Switchyard.Router(
            contracts: try ContractRegistry([]), engine: engine,
            configuration: RouterConfiguration(source: "tail-tests", allowsUnknownChannels: true, signingKeys: keys), logger: Self.logger)
        let app = try buildApplication(router: router, configuration: GatewayConfiguration(port: 0, authenticator: OpenAuthenticator()), logger: Self.logger)
        // trades:* is critical by default: the router signs; an event appended around it is not signed.
        let channel = try ChannelName("trades:tail_signed")
        try await router.publish(to: channel, payload: ["n": 1])
        _ = try await engine.append([AppendRequest(
            eventID: .generate(), channel: channel, timestamp: .now(), source: "intruder", schema: "", data: ["n": 2],
            rules: AppendRules(retention: .seconds(3600), dedupWindow: .seconds(300), rateLimit: nil))])
        try await router.publish(to: channel, payload: ["n": 3])
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let result = await Self.run(["tail", "--server", "http://127.0.0.1:\(port)", channel.rawValue, "--since", "1", "--count", "2", "--json"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(try Self.lines(result.stdout).map { try Envelope(decoding: $0).data["n"] } == [1, 3])
            #expect(result.stderr.contains("refused on \(channel) #2: unsigned_event"), "\(result.stderr)")
        }
    }

    @Test func tailSendsItsTokenWithTheUpgrade() async throws {
        let router = Switchyard.Router(
            contracts: try ContractRegistry([]), engine: EmbeddedEngine(logger: Self.logger),
            configuration: RouterConfiguration(source: "tail-tests", allowsUnknownChannels: true), logger: Self.logger)
        let configuration = GatewayConfiguration(port: 0, authenticator: QueryTokenAuthenticator())
        let app = try buildApplication(router: router, configuration: configuration, logger: Self.logger)
        let channel = try ChannelName("events:tail_token")
        try await router.publish(to: channel, payload: ["n": 1])
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let server = "http://127.0.0.1:\(port)"
            let refused = await Self.run(["tail", "--server", server, channel.rawValue, "--since", "1", "--count", "1"])
            #expect(refused.status == 1)
            let allowed = await Self.run(["tail", "--server", server, "--token", "s3cret&x", channel.rawValue, "--since", "1", "--count", "1"])
            #expect(allowed.status == 0, "\(allowed.stderr)")
            #expect(Self.lines(allowed.stdout).count == 1)
        }
    }

    @Test func tailExitsOneWhenTheServerCannotBeReached() async throws {
        let result = await Self.run(["tail", "--server", "http://127.0.0.1:1", "events:x", "--count", "1"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("error_type"))
    }
}

/// Lets in requests whose `token` query parameter is `s3cret&x`.
struct QueryTokenAuthenticator: Authenticator {
    func principal(for request: Request, remoteAddress: SocketAddress?) async throws(SwitchyardError) -> Principal {
        guard request.uri.queryParameters.get("token") == "s3cret&x" else { throw SwitchyardError(.unauthorized, "a token is required") }
        return Principal(subject: "tail", grants: .all)
    }
}
