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

    /// TLS everywhere, a password on the Sentinels and an ACL user on the data servers, together,
    /// across a failover (a private deployment).
    @Test func tlsTheSentinelsPasswordAndAnACLUserWorkTogetherAcrossAFailover() async throws {
        let tls = (
            certificate: try TestEnvironment.value("TLS_SERVER_CERT"), key: try TestEnvironment.value("TLS_SERVER_KEY"),
            certificateAuthority: try TestEnvironment.value("REDIS_TLS_CA"))
        try await OneAtATime.privateDeployments.run {
            let deployment = try await SentinelDeployment.start(tls: tls, sentinelPassword: "sentinel-secret")
            defer { deployment.stop() }
            // ACL users are not replicated: made on both data servers, as the runbook says.
            for port in deployment.serverPorts {
                _ = try await deployment.ask(port: port, "ACL", "SETUSER", "app", "on", ">app-secret", "~app:*", "&app:*", "+@all", "-@dangerous")
            }
            var configuration = try Self.configuration(deployment.url.replacingOccurrences(of: "+sentinel://", with: "+sentinel://app:app-secret@"))
            configuration.tls = try .require(certificateAuthorityFile: tls.certificateAuthority)
            #expect(configuration.sentinel?.password == "sentinel-secret")
            let key = "app:\(TestEnvironment.uniqueKey("tls"))"
            try await runClient(configuration) { client throws in
                #expect(try await client.execute(SET(key, value: "before")))
                let refused = try await #require(throws: RedisError.self) { try await client.execute(GET("other:\(key)")) }
                #expect(refused.serverErrorPrefix == "NOPERM")
                try await client.subscribe(to: ["app:news"]) { subscription throws in
                    var iterator = subscription.makeAsyncIterator()
                    #expect(try await client.execute(PUBLISH("app:news", message: "first")) == 1)
                    #expect(try await iterator.next()?.message.map { String(buffer: $0.payload) } == "first")
                }
                let killed = try await deployment.killPrimary()
                let promoted = try await eventually(timeout: .seconds(30), every: .milliseconds(100)) {
                    (try? await deployment.primaryPort()).map { $0 != killed } ?? false
                }
                #expect(promoted, "the Sentinels promoted the replica")
                // The replica had the key; the client reaches it over TLS as the same ACL user.
                let read = try await eventually(timeout: .seconds(30), every: .milliseconds(100)) {
                    (try? await client.execute(GET(key))).map { $0.map { String(buffer: $0) } == "before" } ?? false
                }
                #expect(read, "the new primary answers the ACL user over TLS")
                #expect(try await client.execute(SET(key, value: "after")))
            }
        }
    }
}
