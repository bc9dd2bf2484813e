import Foundation
import Logging
import NIOCore
import NIOPosix
import RESP
import RedisTestSupport
import Testing

@testable import RedisClient

/// The client under Sentinel, against the primary, replica and three Sentinels `scripts/test` starts.
@Suite(.timeLimit(.minutes(5)), .needs(.sentinel)) struct SentinelTests {
    static func configuration(_ url: String? = nil) throws -> RedisConfiguration {
        var configuration = try RedisConfiguration(url: try url ?? TestEnvironment.value("REDIS_SENTINEL_URL"))
        configuration.connectTimeout = .seconds(2)
        configuration.commandTimeout = .seconds(5)
        return configuration
    }

    @Test func commandsAndSubscriptionsReachThePrimaryTheSentinelsName() async throws {
        let configuration = try Self.configuration()
        try await runClient(configuration) { client throws in
            let role = try await client.execute(GenericCommand("ROLE"))
            #expect(role.elements?.first?.string == "master")
            let key = TestEnvironment.uniqueKey("sentinel")
            #expect(try await client.execute(SET(key, value: "written")))
            #expect(try await client.execute(GET(key)).map { String(buffer: $0) } == "written")
            let channel = TestEnvironment.uniqueKey("sentinel-channel")
            try await client.subscribe(to: [channel]) { subscription throws in
                var iterator = subscription.makeAsyncIterator()
                #expect(try await client.execute(PUBLISH(channel, message: "live")) == 1)
                #expect(try await iterator.next()?.message.map { String(buffer: $0.payload) } == "live")
            }
        }
    }

    @Test func aNameNoSentinelMonitorsFailsWithWhatEachSentinelSaid() async throws {
        let url = try TestEnvironment.value("REDIS_SENTINEL_URL")
        let configuration = try Self.configuration(url.replacingOccurrences(of: "/switchyard-test", with: "/no-such-primary"))
        let client = try RedisClient(configuration: configuration, logger: Logger(label: "test.sentinel"))
        let error = try await #require(throws: RedisError.self) { try await client.execute(PING()) }
        #expect(error.code == .connectionFailed)
        #expect(error.isRetryable)
        #expect(error.serverMessage?.contains("does not monitor no-such-primary") == true, "\(error.serverMessage ?? "")")
    }

    @Test func unreachableSentinelsFailWithAClearError() async throws {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress?.port ?? 0
        try await channel.close()
        let configuration = try Self.configuration("redis+sentinel://127.0.0.1:\(port)/switchyard-test")
        let client = try RedisClient(configuration: configuration, logger: Logger(label: "test.sentinel"))
        let error = try await #require(throws: RedisError.self) { try await client.execute(PING()) }
        #expect(error.code == .connectionFailed)
        #expect(error.serverMessage?.contains("no Sentinel named the primary of switchyard-test") == true, "\(error.serverMessage ?? "")")
    }

    /// A server that has become a replica answers writes with `READONLY`: under Sentinel the
    /// connection closes at once, so the pool's next connection asks the Sentinels again.
    @Test func aReadOnlyReplyClosesTheConnectionOnlyUnderSentinel() async throws {
        let sentinel = try #require(try Self.configuration().sentinel)
        let factory = RedisConnectionFactory(
            configuration: try Self.configuration(), tlsContext: nil, metrics: RedisMetrics(), logger: Logger(label: "test.sentinel"))
        let primary = try await factory.connect(on: MultiThreadedEventLoopGroup.singleton.any(), onPush: nil)
        let replicas = try await factory.connectToSentinel(sentinel, on: MultiThreadedEventLoopGroup.singleton.any())
            .execute(GenericCommand("SENTINEL", "REPLICAS", sentinel.primaryName))
        await primary.close()
        // One map per replica (a flat array of names and values in RESP2).
        let fields = replicas.elements?.first?.pairs ?? []
        let replicaPort = try #require(fields.first { $0.key.string == "port" }?.value.string.flatMap { Int($0) }, "\(replicas)")
        var replica = RedisConfiguration(host: "127.0.0.1", port: replicaPort)
        replica.commandTimeout = .seconds(5)
        for closes in [true, false] {
            let connection = try await factory.open(replica, on: MultiThreadedEventLoopGroup.singleton.any(), onPush: nil, closesOnReadOnly: closes)
            let error = try await #require(throws: RedisError.self) { try await connection.execute(SET(TestEnvironment.uniqueKey("ro"), value: "x")) }
            #expect(error.serverErrorPrefix == "READONLY")
            #expect(error.isRetryable)
            if closes {
                await connection.waitForClose()
            } else {
                #expect(try await connection.execute(PING()) == "PONG")
                await connection.close()
            }
        }
    }
}
