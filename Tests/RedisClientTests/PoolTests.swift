import RedisTestSupport
import NIOCore
import NIOPosix
import RESP
import Testing

@testable import RedisClient

@Suite(.timeLimit(.minutes(10)), .needs(.redis)) struct PoolTests {
    @Test func waiterTimesOutWithAClearError() async throws {
        var configuration = try TestEnvironment.configuration()
        configuration.pool.maximumConnections = 1
        configuration.pool.acquireTimeout = .milliseconds(100)
        try await withClient(configuration) { client throws in
            try await client.withConnection { _ throws in
                do {
                    _ = try await client.execute(PING())
                    Issue.record("expected a pool timeout")
                } catch let error as RedisError {
                    #expect(error.code == .poolTimeout)
                    #expect("\(error)".contains("poolTimeout"))
                }
            }
            #expect(try await client.execute(PING()) == "PONG")
        }
    }

    @Test func boundedPoolServesManyCallers() async throws {
        var configuration = try TestEnvironment.configuration()
        configuration.pool.maximumConnections = 3
        configuration.pool.acquireTimeout = .seconds(30)
        try await withClient(configuration) { client throws in
            let key = TestEnvironment.uniqueKey("pool")
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<200 {
                    group.addTask {
                        try await client.withConnection { connection throws in
                            _ = try await connection.execute(INCR(key))
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await client.execute(GET(key)).map { String(buffer: $0) } == "200")
            let clients = try await client.execute(GenericCommand("CLIENT", "LIST")).string ?? ""
            #expect(clients.split(separator: "\n").count >= 1)
            _ = try await client.execute(DEL(key))
        }
    }

    @Test func waiterGetsAReleasedConnection() async throws {
        var configuration = try TestEnvironment.configuration()
        configuration.pool.maximumConnections = 1
        configuration.pool.acquireTimeout = .seconds(5)
        try await withClient(configuration) { client throws in
            let (held, waiter) = try await client.withConnection { connection throws in
                let waiter = Task {
                    try await client.withConnection { connection throws in
                        (try await connection.execute(PING()), connection.id)
                    }
                }
                while client.pool.waitingCallers == 0 { await Task.yield() }
                return (connection.id, waiter)
            }
            let (reply, id) = try await waiter.value
            #expect(reply == "PONG")
            #expect(id == held, "the waiter was handed the returned connection")
            #expect(client.pool.openConnections == 1)
        }
    }

    /// A task that prefers one of the client's event loops is handed connections on that loop, so
    /// its commands and their replies stay on one thread; a task on a loop of another group
    /// takes what is idle and opens nothing more.
    @Test func aTaskOnAnEventLoopGetsConnectionsOnThatLoop() async throws {
        var configuration = try TestEnvironment.configuration()
        configuration.pool.maximumConnections = 8
        try await withClient(configuration) { client throws in
            _ = try await client.execute(PING())
            #expect(client.pool.openConnections == 1)
            let loops = Array(MultiThreadedEventLoopGroup.singleton.makeIterator())
            for loop in loops {
                try await withTaskExecutorPreference(RedisEventLoopTaskExecutor(eventLoop: loop)) {
                    for _ in 0..<5 {
                        let leased = try await client.withConnection { connection throws in
                            _ = try await connection.execute(PING())
                            return ObjectIdentifier(connection.channel.eventLoop)
                        }
                        #expect(leased == ObjectIdentifier(loop))
                        #expect(MultiThreadedEventLoopGroup.currentEventLoop === loop, "the reply continued the task on its loop")
                    }
                }
            }
            // One connection on each loop at most, the first one included.
            #expect(client.pool.openConnections <= loops.count)
            let opened = client.pool.openConnections

            // The client's own executor is one of those loops.
            try await withTaskExecutorPreference(client.taskExecutor()) {
                let loop = try #require(MultiThreadedEventLoopGroup.currentEventLoop)
                #expect(loops.contains { $0 === loop })
                let leased = try await client.withConnection { connection throws in ObjectIdentifier(connection.channel.eventLoop) }
                #expect(leased == ObjectIdentifier(loop))
            }
            #expect(client.pool.openConnections == opened)

            let other = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            try await withTaskExecutorPreference(RedisEventLoopTaskExecutor(eventLoop: other.next())) {
                for _ in 0..<5 { _ = try await client.execute(PING()) }
            }
            #expect(client.pool.openConnections == opened)
            try await other.shutdownGracefully()
        }
    }
}
