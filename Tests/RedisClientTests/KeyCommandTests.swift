import RedisTestSupport
import NIOCore
import RESP
import RedisClient
import Testing

@Suite(.timeLimit(.minutes(10)), .needs(.redis)) struct KeyCommandTests {
    @Test func getSetDelRoundTrip() async throws {
        try await withClient { client throws in
            let key = TestEnvironment.uniqueKey("string")
            #expect(try await client.execute(GET(key)) == nil)
            #expect(try await client.execute(SET(key, value: "v1")))
            #expect(text(try await client.execute(GET(key))) == "v1")
            #expect(try await client.execute(SET(key, value: "v2", condition: .ifNotExists)) == false)
            #expect(try await client.execute(SET(key, value: "v3", condition: .ifExists)))
            #expect(text(try await client.execute(GET(key))) == "v3")
            #expect(try await client.execute(DEL(key, key + ":other")) == 1)
            #expect(try await client.execute(GET(key)) == nil)
        }
    }

    @Test func expirationsAndTTL() async throws {
        try await withClient { client throws in
            let key = TestEnvironment.uniqueKey("ttl")
            #expect(try await client.execute(TTL(key)) == -2)
            #expect(try await client.execute(SET(key, value: "x", expiration: .seconds(100))))
            #expect((90...100).contains(try await client.execute(TTL(key))))
            #expect(try await client.execute(SET(key, value: "x", expiration: .milliseconds(50_000))))
            #expect((40...50).contains(try await client.execute(TTL(key))))
            #expect(try await client.execute(SET(key, value: "x")))
            #expect(try await client.execute(TTL(key)) == -1)
            #expect(try await client.execute(EXPIRE(key, seconds: 30)))
            #expect((20...30).contains(try await client.execute(TTL(key))))
            #expect(try await client.execute(EXPIRE(key + ":missing", seconds: 30)) == false)
            _ = try await client.execute(DEL(key))
        }
    }

    @Test func incrAndWrongType() async throws {
        try await withClient { client throws in
            let key = TestEnvironment.uniqueKey("counter")
            #expect(try await client.execute(INCR(key)) == 1)
            #expect(try await client.execute(INCR(key)) == 2)
            let stream = TestEnvironment.uniqueKey("stream")
            _ = try await client.execute(XADD(stream, fields: ["f": ByteBuffer(string: "v")]))
            do {
                _ = try await client.execute(INCR(stream))
                Issue.record("INCR on a stream should fail")
            } catch let error as RedisError {
                #expect(error.code == .serverError)
                #expect(error.serverErrorPrefix == "WRONGTYPE")
                #expect(!error.isRetryable)
            }
            _ = try await client.execute(DEL(key, stream))
        }
    }

    @Test func scriptsReloadTransparentlyAfterNOSCRIPT() async throws {
        try await withClient { client throws in
            let script = RedisScript("return {KEYS[1], ARGV[1], 'sha-test-\(TestEnvironment.uniqueKey())'}")
            let loaded = try await client.execute(SCRIPT.LOAD(script.source))
            #expect(loaded == script.sha)
            let direct = try await client.execute(EVALSHA(sha: script.sha, keys: ["k"], arguments: [ByteBuffer(string: "a")]))
            #expect(direct.elements?.prefix(2).compactMap(\.string) == ["k", "a"])

            let fresh = RedisScript("return 'fresh-\(TestEnvironment.uniqueKey())'")
            do {
                _ = try await client.execute(EVALSHA(sha: fresh.sha))
                Issue.record("an unknown script should fail")
            } catch let error as RedisError {
                #expect(error.serverErrorPrefix == "NOSCRIPT")
            }
            let value = try await client.execute(fresh)
            #expect(value.string?.hasPrefix("fresh-") == true)
        }
    }

    @Test func serverCommands() async throws {
        try await withClient { client throws in
            #expect(try await client.execute(PING()) == "PONG")
            #expect(try await client.execute(PING("hello")) == "hello")
            #expect(try await client.execute(INFO("server")).contains("redis_version"))
            let id = try await client.execute(CLIENT.ID())
            #expect(id > 0)
            let generic = try await client.execute(GenericCommand("ECHO", "raw"))
            #expect(generic.string == "raw")
        }
    }

    @Test func scanFindsKeys() async throws {
        try await withClient { client throws in
            let prefix = TestEnvironment.uniqueKey("scan")
            for index in 0..<25 { _ = try await client.execute(SET("\(prefix):\(index)", value: "x")) }
            var cursor = "0"
            var found: Set<String> = []
            repeat {
                let page = try await client.execute(SCAN(cursor: cursor, pattern: "\(prefix):*", count: 100, type: "string"))
                found.formUnion(page.keys)
                cursor = page.cursor
            } while cursor != "0"
            #expect(found.count == 25)
            _ = try await client.execute(DEL(keys: Array(found)))
        }
    }

    @Test func resp2ModeUsesAuthSelectAndDecodesTheSame() async throws {
        var configuration = try TestEnvironment.configuration()
        configuration.protocolVersion = .resp2
        configuration.database = 3
        configuration.clientName = "resp2-test"
        try await withClient(configuration) { client throws in
            try await client.withConnection { connection throws in
                #expect(await connection.protocolVersion == 2)
            }
            let key = TestEnvironment.uniqueKey("resp2")
            #expect(try await client.execute(SET(key, value: "v")))
            let info = try await client.execute(GenericCommand("CLIENT", "INFO"))
            #expect(info.string?.contains("db=3") == true)
            #expect(info.string?.contains("name=resp2-test") == true)
            _ = try await client.execute(DEL(key))
        }
    }

    @Test func resp3HandshakeSetsNameAndDatabase() async throws {
        var configuration = try TestEnvironment.configuration()
        configuration.database = 2
        configuration.clientName = "resp3-test"
        try await withClient(configuration) { client throws in
            try await client.withConnection { connection throws in
                #expect(await connection.protocolVersion == 3)
            }
            let info = try await client.execute(GenericCommand("CLIENT", "INFO"))
            #expect(info.string?.contains("db=2") == true)
            #expect(info.string?.contains("name=resp3-test") == true)
        }
    }
}

func text(_ bytes: ByteBuffer?) -> String? {
    bytes.map { String(buffer: $0) }
}
