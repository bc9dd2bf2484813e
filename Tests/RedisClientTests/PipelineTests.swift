import RedisTestSupport
import NIOCore
import RESP
import RedisClient
import Testing

@Suite(.timeLimit(.minutes(10)), .needs(.redis)) struct PipelineTests {
    @Test func typedPipelineReturnsEachReply() async throws {
        try await withClient { client throws in
            let key = TestEnvironment.uniqueKey("pipe")
            try await client.withConnection { connection throws in
                let (set, incr, value, pong) = try await connection.pipeline(
                    SET(key, value: "41"),
                    INCR(key),
                    GET(key),
                    PING()
                )
                #expect(set)
                #expect(incr == 42)
                #expect(text(value) == "42")
                #expect(pong == "PONG")
                _ = try await connection.execute(DEL(key))
            }
        }
    }

    @Test func typedPipelineThrowsTheFirstErrorAfterAllReplies() async throws {
        try await withClient { client throws in
            let key = TestEnvironment.uniqueKey("pipe-error")
            let stream = TestEnvironment.uniqueKey("pipe-stream")
            _ = try await client.execute(XADD(stream, fields: ["f": ByteBuffer(string: "v")]))
            try await client.withConnection { connection throws in
                do {
                    _ = try await connection.pipeline(INCR(key), INCR(stream), INCR(key))
                    Issue.record("expected WRONGTYPE")
                } catch let error as RedisError {
                    #expect(error.serverErrorPrefix == "WRONGTYPE")
                }
                #expect(try await connection.execute(GET(key)).map { String(buffer: $0) } == "2")
                _ = try await connection.execute(DEL(key, stream))
            }
        }
    }

    @Test func arrayPipelineOfXADDReturnsResults() async throws {
        try await withClient { client throws in
            let key = TestEnvironment.uniqueKey("pipe-xadd")
            try await client.withConnection { connection throws in
                let commands = (0..<1000).map { XADD(key, fields: ["n": ByteBuffer(string: "\($0)")]) }
                let results = try await connection.pipeline(commands)
                let ids = try results.map { try $0.get() }
                #expect(ids.count == 1000)
                #expect(ids == ids.sorted())
                #expect(try await connection.execute(XLEN(key)) == 1000)
                _ = try await connection.execute(DEL(key))
            }
        }
    }

    @Test func manyConcurrentCommandsShareOneConnection() async throws {
        try await withClient { client throws in
            let key = TestEnvironment.uniqueKey("concurrent")
            try await client.withConnection { connection throws in
                try await withThrowingTaskGroup(of: Int.self) { group in
                    for _ in 0..<500 {
                        group.addTask { try await connection.execute(INCR(key)) }
                    }
                    var seen: Set<Int> = []
                    for try await value in group { seen.insert(value) }
                    #expect(seen == Set(1...500))
                }
                _ = try await connection.execute(DEL(key))
            }
        }
    }

    @Test func transactionRunsAtomically() async throws {
        try await withClient { client throws in
            let key = TestEnvironment.uniqueKey("multi")
            let stream = TestEnvironment.uniqueKey("multi-stream")
            _ = try await client.execute(XADD(stream, fields: ["f": ByteBuffer(string: "v")]))
            try await client.withConnection { connection throws in
                let (set, incr, wrong, value) = try await connection.transaction(
                    SET(key, value: "1"),
                    INCR(key),
                    INCR(stream),
                    GET(key)
                )
                #expect(try set.get())
                #expect(try incr.get() == 2)
                #expect(throws: RedisError.self) { try wrong.get() }
                #expect(try value.get().map { String(buffer: $0) } == "2")

                do {
                    _ = try await connection.transaction(GenericCommand("NOSUCHCOMMAND"), INCR(key))
                    Issue.record("EXECABORT expected")
                } catch let error as RedisError {
                    #expect(error.code == .transactionAborted)
                }
                #expect(try await connection.execute(GET(key)).map { String(buffer: $0) } == "2")
                _ = try await connection.execute(DEL(key, stream))
            }
        }
    }

    @Test func commandsRunUnderTheConnectionsTaskExecutor() async throws {
        try await withClient { client throws in
            let key = TestEnvironment.uniqueKey("executor")
            try await client.withConnection { connection throws in
                try await withTaskExecutorPreference(connection.taskExecutor) {
                    for _ in 0..<100 { _ = try await connection.execute(INCR(key)) }
                }
                #expect(text(try await connection.execute(GET(key))) == "100")
                _ = try await connection.execute(DEL(key))
            }
        }
    }

    @Test func commandTimeoutFailsWithARetryableError() async throws {
        var configuration = try TestEnvironment.configuration()
        // Long enough for a connection's handshake on a busy machine; BLPOP waits far longer.
        configuration.commandTimeout = .milliseconds(500)
        try await withClient(configuration) { client throws in
            let key = TestEnvironment.uniqueKey("timeout")
            try await client.withConnection { connection throws in
                do {
                    _ = try await connection.execute(GenericCommand("BLPOP", key, "5"))
                    Issue.record("expected a timeout")
                } catch let error as RedisError {
                    #expect(error.code == .timeout)
                    #expect(error.isRetryable)
                }
                #expect(connection.isClosed)
            }
            #expect(try await client.execute(PING()) == "PONG")
        }
    }
}
