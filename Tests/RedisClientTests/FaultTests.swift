import RedisTestSupport
import Foundation
import NIOCore
import NIOPosix
import RESP
import RedisClient
import Testing

/// Tests that kill the shared server: one at a time, while no other test uses the server.
@Suite(.serialized, .timeLimit(.minutes(10)), .needs(.redis)) struct ServerRestartTests {
    @Test func subscriptionResubscribesAndReportsAGapAfterTheServerIsKilled() async throws {
        let configPath = try TestEnvironment.value("REDIS_CONF")
        let configuration = try TestEnvironment.configuration()
        try await RedisServerGate.shared.exclusive {
            try await runClient(configuration) { client throws in
                let channel = TestEnvironment.uniqueKey("restart")
                try await client.subscribe(to: [channel]) { subscription throws in
                    var iterator = subscription.makeAsyncIterator()
                    _ = try await client.execute(PUBLISH(channel, message: "before"))
                    #expect(try await iterator.next()?.message.map { String(buffer: $0.payload) } == "before")

                    try RedisServerProcess.killAndLaunch(configPath: configPath)
                    do {
                        _ = try await client.execute(PING())
                    } catch let error as RedisError {
                        #expect(error.isRetryable)
                    }
                    try await RedisServerProcess.waitUntilUp(configPath: configPath, configuration: configuration)

                    let event = try await iterator.next()
                    #expect(event?.gap == RedisSubscription.Gap(reason: .reconnected, droppedMessages: nil))
                    var delivered = 0
                    for _ in 0..<20 where delivered == 0 {
                        delivered = (try? await client.execute(PUBLISH(channel, message: "after"))) ?? 0
                    }
                    #expect(delivered == 1)
                    #expect(try await iterator.next()?.message.map { String(buffer: $0.payload) } == "after")
                }
            }
        }
    }
}

@Suite(.timeLimit(.minutes(10))) struct ConnectionFaultTests {
    @Test(.needs(.redis)) func clientKillDuringAPipelineFailsEveryPendingCommandAndThePoolRecovers() async throws {
        var configuration = try TestEnvironment.configuration()
        configuration.pool.maximumConnections = 1
        let killerConfiguration = configuration
        try await withClient(configuration) { client throws in
            let key = TestEnvironment.uniqueKey("kill")
            let id = try await client.execute(CLIENT.ID())
            async let pipeline = client.withConnection { connection throws in
                try await connection.pipeline(
                    [GenericCommand("BLPOP", key, "10", blockingTimeout: .seconds(10)), GenericCommand("PING"), GenericCommand("PING")]
                )
            }
            let killer = try await RedisConnection.connect(configuration: killerConfiguration, logger: CapturedLogs().logger())
            let blocked = try await eventually(timeout: .seconds(5)) {
                let clients = try await killer.execute(GenericCommand("CLIENT", "LIST")).string ?? ""
                return clients.split(separator: "\n").contains { $0.contains("id=\(id) ") && $0.contains("cmd=blpop") }
            }
            #expect(blocked, "the pipeline's BLPOP is blocked on the server")
            #expect(try await killer.execute(GenericCommand("CLIENT", "KILL", "ID", "\(id)")).int == 1)
            await killer.close()
            do {
                _ = try await pipeline
                Issue.record("the pipeline should fail")
            } catch let error as RedisError {
                #expect(error.code == .connectionClosed)
                #expect(error.isRetryable)
            }
            #expect(try await client.execute(PING()) == "PONG")
            #expect(try await client.execute(CLIENT.ID()) != id)
        }
    }

    @Test(.needs(.redis)) func concurrentCommandsAllFailWhenTheConnectionIsKilled() async throws {
        try await withClient { client throws in
            let key = TestEnvironment.uniqueKey("kill-many")
            try await client.withConnection { connection throws in
                let id = try await connection.execute(CLIENT.ID())
                try await withThrowingTaskGroup(of: Result<RESPValue, RedisError>.self) { group in
                    for _ in 0..<20 {
                        group.addTask {
                            do {
                                return .success(try await connection.execute(GenericCommand(arguments: ["BLPOP", key, "10"].map { ByteBuffer(string: $0) }, blockingTimeout: .seconds(10))))
                            } catch let error as RedisError {
                                return .failure(error)
                            }
                        }
                    }
                    // The first BLPOP blocks the connection on the server; the others queue behind it.
                    let blocked = try await eventually(timeout: .seconds(5)) {
                        let clients = try await client.execute(GenericCommand("CLIENT", "LIST")).string ?? ""
                        return clients.split(separator: "\n").contains { $0.contains("id=\(id) ") && $0.contains("cmd=blpop") }
                    }
                    #expect(blocked)
                    _ = try await client.execute(GenericCommand("CLIENT", "KILL", "ID", "\(id)"))
                    var failures = 0
                    for try await result in group {
                        if case .failure(let error) = result, error.code == .connectionClosed { failures += 1 }
                    }
                    #expect(failures == 20)
                }
                await #expect(throws: RedisError.self) { _ = try await connection.execute(PING()) }
            }
        }
    }

    @Test func malformedRepliesFailPendingCommandsWithAProtocolError() async throws {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(GarbageReplier())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        defer { server.close(promise: nil) }
        var configuration = RedisConfiguration(host: "127.0.0.1", port: server.localAddress!.port!)
        configuration.protocolVersion = .resp2
        let connection = try await RedisConnection.connect(configuration: configuration, logger: CapturedLogs().logger())
        let results = await withTaskGroup(of: RedisError?.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    do {
                        _ = try await connection.execute(PING())
                        return nil
                    } catch {
                        return error as? RedisError
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 3)
        #expect(results.allSatisfy { $0?.code == .protocolError })
        #expect(results.allSatisfy { $0.map { "\($0)".contains("invalidTypeMarker") } == true })
        await connection.waitUntilClosedForTests()
        #expect(connection.isClosed)
    }

    @Test func connectionRefusedIsARetryableConnectError() async throws {
        var configuration = RedisConfiguration(host: "127.0.0.1", port: 1)
        configuration.connectTimeout = .seconds(1)
        do {
            _ = try await RedisConnection.connect(configuration: configuration, logger: CapturedLogs().logger())
            Issue.record("expected a connect failure")
        } catch let error as RedisError {
            #expect(error.code == .connectionFailed)
            #expect(error.isRetryable)
        }
    }
}

/// A fake server that answers anything with bytes that are not RESP.
final class GarbageReplier: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(string: "@garbage\r\n")), promise: nil)
    }
}

extension RedisConnection {
    nonisolated func waitUntilClosedForTests() async {
        _ = try? await eventually(timeout: .seconds(1)) { self.isClosed }
    }
}
