import RedisTestSupport
import NIOCore
import RESP
import RedisClient
import Testing

@Suite(.timeLimit(.minutes(10))) struct AccessTests {
    @Test(.needs(.redis)) func aclNOPERMIsATypedError() async throws {
        let configuration = try TestEnvironment.configuration("REDIS_ACL_URL")
        #expect(configuration.username == "limited")
        try await withClient(configuration) { client throws in
            let allowed = "allowed:" + TestEnvironment.uniqueKey()
            #expect(try await client.execute(SET(allowed, value: "ok")))
            do {
                _ = try await client.execute(SET("forbidden:" + TestEnvironment.uniqueKey(), value: "no"))
                Issue.record("expected NOPERM")
            } catch let error as RedisError {
                #expect(error.code == .serverError)
                #expect(error.serverErrorPrefix == "NOPERM")
                #expect(!error.isRetryable)
            }
            do {
                _ = try await client.execute(GenericCommand("FLUSHALL"))
                Issue.record("expected NOPERM for a dangerous command")
            } catch let error as RedisError {
                #expect(error.serverErrorPrefix == "NOPERM")
            }
            do {
                _ = try await client.execute(PUBLISH("forbidden:channel", message: "x"))
                Issue.record("expected NOPERM for a channel")
            } catch let error as RedisError {
                #expect(error.serverErrorPrefix == "NOPERM")
            }
            _ = try await client.execute(DEL(allowed))
        }
    }

    @Test(.needs(.redis), arguments: [2, 3]) func subscribingToAForbiddenChannelIsATypedErrorAndHarmsNoOtherSubscription(version: Int) async throws {
        var configuration = try TestEnvironment.configuration("REDIS_ACL_URL")
        configuration.protocolVersion = version == 2 ? .resp2 : .resp3
        try await withClient(configuration) { client throws in
            let allowed = "allowed:" + TestEnvironment.uniqueKey()
            try await client.subscribe(to: [allowed]) { subscription throws in
                do {
                    try await client.subscribe(to: ["forbidden:" + TestEnvironment.uniqueKey()]) { _ throws in
                        Issue.record("the subscription should be refused")
                    }
                } catch let error as RedisError {
                    #expect(error.code == .serverError)
                    #expect(error.serverErrorPrefix == "NOPERM")
                }
                #expect(try await client.execute(PUBLISH(allowed, message: "still here")) == 1)
                var iterator = subscription.makeAsyncIterator()
                #expect(try await iterator.next()?.message.map { String(buffer: $0.payload) } == "still here")
            }
        }
    }

    @Test(.needs(.redis), arguments: [2, 3]) func wrongPasswordFailsWithoutLeakingIt(version: Int) async throws {
        var configuration = try TestEnvironment.configuration("REDIS_ACL_URL")
        configuration.password = "not-the-password-s3cr3t"
        configuration.protocolVersion = version == 2 ? .resp2 : .resp3
        let logs = CapturedLogs()
        try await withClient(configuration, logs: logs) { client throws in
            do {
                _ = try await client.execute(PING())
                Issue.record("expected an authentication failure")
            } catch let error as RedisError {
                #expect(error.code == .authenticationFailed)
                #expect(error.serverErrorPrefix == "WRONGPASS")
                #expect(!"\(error)".contains("s3cr3t"))
                #expect(!String(reflecting: error).contains("s3cr3t"))
            }
        }
        #expect(!logs.all.joined().contains("s3cr3t"))
    }

    @Test(.needs(.redis)) func tlsWithCertificateAuthority() async throws {
        var configuration = try TestEnvironment.configuration("REDIS_TLS_URL")
        #expect(configuration.tls.isEnabled)
        configuration.tls = try .require(certificateAuthorityFile: try TestEnvironment.value("REDIS_TLS_CA"))
        try await withClient(configuration) { client throws in
            #expect(try await client.execute(PING()) == "PONG")
            let info = try await client.execute(GenericCommand("CLIENT", "INFO")).string ?? ""
            #expect(info.contains("laddr=127.0.0.1"))
        }
    }

    @Test(.needs(.redis)) func tlsWithClientCertificate() async throws {
        var configuration = try TestEnvironment.configuration("REDIS_TLS_URL")
        configuration.tls = try .require(
            certificateAuthorityFile: try TestEnvironment.value("REDIS_TLS_CA"),
            certificateChainFile: try TestEnvironment.value("REDIS_TLS_CERT"),
            privateKeyFile: try TestEnvironment.value("REDIS_TLS_KEY")
        )
        try await withClient(configuration) { client throws in
            let key = TestEnvironment.uniqueKey("tls")
            #expect(try await client.execute(SET(key, value: "secure")))
            #expect(try await client.execute(GET(key)).map { String(buffer: $0) } == "secure")
            _ = try await client.execute(DEL(key))
        }
    }

    @Test(.needs(.redis)) func tlsWithoutTheCAIsRefused() async throws {
        let configuration = try TestEnvironment.configuration("REDIS_TLS_URL")
        try await withClient(configuration) { client throws in
            await #expect(throws: RedisError.self) { _ = try await client.execute(PING()) }
        }
    }

    @Test func missingCertificateFileIsATLSError() throws {
        #expect {
            _ = try RedisConfiguration.TLS.require(certificateAuthorityFile: "/nonexistent/ca.pem")
        } throws: { error in
            (error as? RedisError)?.code == .tlsFailure
        }
    }
}
