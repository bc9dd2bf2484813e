import RedisTestSupport
import CoreMetrics
import MetricsTestKit
import NIOCore
import RESP
import Testing

@testable import RedisClient

@Suite struct ConfigurationTests {
    @Test func parsesRedisURLs() throws {
        let plain = try RedisConfiguration(url: "redis://127.0.0.1:6380/2")
        #expect(plain.host == "127.0.0.1")
        #expect(plain.port == 6380)
        #expect(plain.database == 2)
        #expect(plain.username == nil)
        #expect(plain.password == nil)
        #expect(!plain.tls.isEnabled)

        let full = try RedisConfiguration(url: "rediss://user:p%40ss@cache.example.com")
        #expect(full.host == "cache.example.com")
        #expect(full.port == 6379)
        #expect(full.username == "user")
        #expect(full.password == "p@ss")
        #expect(full.tls.isEnabled)

        let passwordOnly = try RedisConfiguration(url: "redis://:secret@localhost:7000")
        #expect(passwordOnly.username == nil)
        #expect(passwordOnly.password == "secret")
    }

    @Test func parsesSentinelURLs() throws {
        let three = try RedisConfiguration(url: "redis+sentinel://app:p%40ss@10.0.0.1:26380,10.0.0.2,[::1]:26381/trading/3?sentinel_password=watch")
        let sentinel = try #require(three.sentinel)
        #expect(sentinel.nodes == [.init(host: "10.0.0.1", port: 26380), .init(host: "10.0.0.2", port: 26379), .init(host: "::1", port: 26381)])
        #expect(sentinel.primaryName == "trading")
        #expect(sentinel.username == nil)
        #expect(sentinel.password == "watch")
        #expect(sentinel.followsSwitchMaster)
        #expect(three.username == "app")
        #expect(three.password == "p@ss")
        #expect(three.database == 3)
        #expect(!three.tls.isEnabled)
        #expect("\(three)" == "redis+sentinel://app:***@10.0.0.1:26380,10.0.0.2:26379,[::1]:26381/trading/3")

        let tls = try RedisConfiguration(url: "rediss+sentinel://sentinel.example.com/primary")
        #expect(tls.tls.isEnabled)
        #expect(tls.sentinel?.nodes == [.init(host: "sentinel.example.com", port: 26379)])
        #expect(tls.database == 0)
        #expect(tls.password == nil)
        #expect("\(tls)" == "rediss+sentinel://sentinel.example.com:26379/primary")
    }

    @Test func rejectsBadSentinelURLs() {
        for url in [
            "redis+sentinel://10.0.0.1:26379", "redis+sentinel://10.0.0.1:26379/", "redis+sentinel:///name",
            "redis+sentinel://10.0.0.1:port/name", "redis+sentinel://10.0.0.1:0/name", "redis+sentinel://h/name/x",
            "redis+sentinel://h/name/1/2", "redis+sentinel://[::1/name", "redis+sentinel://u:hunter2@h/name/db",
        ] {
            do {
                _ = try RedisConfiguration(url: url)
                Issue.record("\(url) should be refused")
            } catch let error as RedisError {
                #expect(error.code == .invalidConfiguration, "\(url)")
                #expect(!"\(error)".contains("hunter2"))
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
    }

    @Test func readsSwitchMasterMessages() throws {
        let change = try #require(RedisSentinelWatcher.parseSwitch("trading 127.0.0.1 7001 127.0.0.1 7002"))
        #expect(change.name == "trading")
        #expect(change.from == .init(host: "127.0.0.1", port: 7001))
        #expect(change.to == .init(host: "127.0.0.1", port: 7002))
        #expect(RedisSentinelWatcher.parseSwitch("trading 127.0.0.1 7001") == nil)
        #expect(RedisSentinelWatcher.parseSwitch("trading 127.0.0.1 x 127.0.0.1 7002") == nil)
    }

    @Test func rejectsBadURLsWithoutEchoingThem() {
        for url in ["http://localhost", "redis://", "redis://host/notanumber", "redis://u:hunter2@host/x"] {
            do {
                _ = try RedisConfiguration(url: url)
                Issue.record("\(url) should be refused")
            } catch let error as RedisError {
                #expect(error.code == .invalidConfiguration)
                #expect(!"\(error)".contains("hunter2"))
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
    }

    @Test func defaultsAreDocumentedValues() {
        let configuration = RedisConfiguration()
        #expect(configuration.port == 6379)
        #expect(configuration.pool.maximumConnections == 8)
        #expect(configuration.commandTimeout == .seconds(30))
        #expect(configuration.subscriptions.bufferSize == 10_000)
        #expect(configuration.subscriptions.overflowPolicy == .dropNewest)
        #expect(configuration.protocolVersion == .resp3)
    }

    @Test func errorDescriptionNamesCodePrefixAndPlaceOnly() {
        let error = RedisError(.serverError, serverMessage: "WRONGTYPE Operation against key secret-key-name")
        #expect(error.serverErrorPrefix == "WRONGTYPE")
        #expect("\(error)".contains("WRONGTYPE"))
        #expect("\(error)".contains("UnitTests.swift"))
        #expect(!"\(error)".contains("secret-key-name"))
        #expect(RedisError(.connectionClosed).isRetryable)
        #expect(!error.isRetryable)
        #expect(RedisError(.unexpectedResponse, serverMessage: "expected x").serverErrorPrefix == nil)
    }

    @Test func scriptSHAMatchesTheServers() {
        #expect(RedisScript("").sha == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(RedisScript("return 1").sha == "e0e1f9fabfc9d4800c877a703b823ac0578ff8db")
        let long = String(repeating: "x", count: 1000)
        #expect(RedisScript(long).sha.count == 40)
    }

    @Test func backoffGrowsWithJitterAndIsCapped() {
        var settings = RedisConfiguration.Reconnect()
        settings.initialDelay = .milliseconds(100)
        settings.maximumDelay = .seconds(1)
        settings.jitter = 0.2
        var backoff = RedisBackoff(settings)
        var generator = SystemRandomNumberGenerator()
        let delays = (0..<8).map { _ in backoff.next(using: &generator) }
        #expect(delays[0] >= .milliseconds(80) && delays[0] <= .milliseconds(100))
        #expect(delays[1] >= .milliseconds(160) && delays[1] <= .milliseconds(200))
        #expect(delays[7] >= .milliseconds(800) && delays[7] <= .seconds(1))
        backoff.reset()
        #expect(backoff.next(using: &generator) <= .milliseconds(100))
    }
}

@Suite struct XADDEncodingTests {
    /// The same bytes as the command's arguments written one by one, in every form of XADD.
    @Test func everyFormWritesTheSameBytesAsItsArguments() {
        let small = ByteBuffer(string: "value")
        let large = ByteBuffer(repeating: UInt8(ascii: "x"), count: RESPCommandEncoder.zeroCopyThreshold)
        let cases: [(XADD, (inout RESPCommandEncoder) -> Void)] = [
            (XADD("s", fields: ["f": small]), { $0.encode("XADD", "s", "*", "f", small) }),
            (XADD("stream:{é}", fields: [StreamEntry.Field(name: "a", value: small), StreamEntry.Field(name: "", value: ByteBuffer())]),
             { $0.encode("XADD", "stream:{é}", "*", "a", small, "", ByteBuffer()) }),
            (XADD("s", fields: []), { $0.encode("XADD", "s", "*") }),
            (XADD("s", id: StreamID(milliseconds: 5, sequence: 1), fields: ["f": small]), { $0.encode("XADD", "s", "5-1", "f", small) }),
            (XADD("s", fields: ["f": large]), { $0.encode("XADD", "s", "*", "f", large) }),
        ]
        for (command, arguments) in cases {
            var encoder = RESPCommandEncoder(capacity: 1)
            command.encode(into: &encoder)
            var expected = RESPCommandEncoder(capacity: 1)
            arguments(&expected)
            #expect(encoder.finish().joined == expected.finish().joined, "\(command.key) \(command.fields.count)")
        }
    }
}

@Suite struct StreamIDParsingTests {
    /// Text and reply bytes go through one parser: `ms-seq` or `ms`, each part a decimal of at
    /// most 20 digits that fits in 64 bits, nothing before, between or after.
    @Test func idsFromTextAndFromBytes() {
        let max = UInt64.max
        let cases: [(String, StreamID?)] = [
            ("0-0", .zero), ("7", StreamID(milliseconds: 7, sequence: 0)),
            ("1526919030474-55", StreamID(milliseconds: 1_526_919_030_474, sequence: 55)),
            ("18446744073709551615-18446744073709551615", StreamID(milliseconds: max, sequence: max)),
            ("00000000000000000001-2", StreamID(milliseconds: 1, sequence: 2)),
            ("18446744073709551616-0", nil), ("0-18446744073709551616", nil), ("184467440737095516150-1", nil),
            ("000000000000000000001-2", nil), ("", nil), ("-", nil), ("1-", nil), ("-1", nil), ("x-1", nil),
            ("1-2-3", nil), ("1--2", nil), ("1-x", nil), (" 1-2", nil), ("1-2 ", nil), ("+1-2", nil), ("1-٣", nil),
        ]
        for (text, expected) in cases {
            #expect(StreamID(text) == expected, "\(text)")
            #expect(StreamID(text[...]) == expected, "\(text) as a substring")
            #expect(StreamID(bytes: ByteBuffer(string: text)) == expected, "\(text) as bytes")
        }
    }
}

@Suite struct StateMachineTests {
    typealias Machine = RedisConnectionStateMachine<Int>

    @Test func repliesMatchCommandsInOrder() {
        var machine = Machine()
        let deadline = NIODeadline.now() + .seconds(1)
        for id in 1...3 {
            guard case .write = machine.enqueue(id, deadline: deadline) else {
            Issue.record("expected write")
            return
        }
        }
        for id in 1...3 {
            guard case .deliver(let pending, _) = machine.received(.simpleString("OK")) else {
            Issue.record("expected deliver")
            return
        }
            #expect(pending == id)
        }
        #expect(machine.inFlight == 0)
    }

    @Test func pushesAreNotReplies() {
        var machine = Machine()
        _ = machine.enqueue(1, deadline: .now() + .seconds(1))
        guard case .push = machine.received(.push([.blobString("message"), .blobString("c"), .blobString("x")])) else {
            Issue.record("expected push")
            return
        }
        let resp2Message = RESPValue.array([.blobString("message"), .blobString("c"), .blobString("x")])
        guard case .deliver = machine.received(resp2Message) else {
            Issue.record("a RESP2 array is a reply outside subscriber mode")
            return
        }
        machine.isSubscriberMode = true
        guard case .push = machine.received(resp2Message) else {
            Issue.record("expected push in subscriber mode")
            return
        }
    }

    @Test func subscribeCommandsWaitForTheirConfirmationsOrAnError() {
        var machine = Machine()
        _ = machine.enqueue(1, count: 2, deadline: .now() + .seconds(1), confirmations: true)
        _ = machine.enqueue(2, count: 1, deadline: .now() + .seconds(1), confirmations: true)
        let confirmation = RESPValue.push([.blobString("subscribe"), .blobString("a"), .integer(1)])
        guard case .push = machine.received(confirmation) else {
            Issue.record("the first of two confirmations is only a push")
            return
        }
        guard case .deliver(1, _) = machine.received(confirmation) else {
            Issue.record("the second confirmation completes the command")
            return
        }
        guard case .push = machine.received(.push([.blobString("message"), .blobString("a"), .blobString("x")])) else {
            Issue.record("a message is never a confirmation")
            return
        }
        guard case .deliver(2, let value) = machine.received(.simpleError("NOPERM no")) else {
            Issue.record("an error reply ends a subscribe command")
            return
        }
        #expect(value.errorMessage == "NOPERM no")
        #expect(machine.inFlight == 0)
    }

    @Test func closingFailsEverythingPendingAndRefusesNewCommands() {
        var machine = Machine()
        for id in 1...3 { _ = machine.enqueue(id, deadline: .now() + .seconds(1)) }
        #expect(machine.close(with: RedisError(.connectionClosed)) == [1, 2, 3])
        #expect(machine.close(with: RedisError(.connectionClosed)).isEmpty)
        guard case .fail(let error) = machine.enqueue(4, deadline: .now()) else {
            Issue.record("expected fail")
            return
        }
        #expect(error.code == .connectionClosed)
    }

    @Test func unsolicitedReplyClosesTheConnection() {
        var machine = Machine()
        guard case .closeAndFail(let error, let pending) = machine.received(.simpleString("OK")) else {
            Issue.record("expected close")
            return
        }
        #expect(error.code == .unexpectedResponse)
        #expect(pending.isEmpty)
    }

    @Test func timerClosesOnlyWhenTheOldestCommandIsLate() {
        var machine = Machine()
        let now = NIODeadline.now()
        _ = machine.enqueue(1, deadline: now + .seconds(5))
        guard case .rearm(let next) = machine.timerFired(now: now) else {
            Issue.record("expected rearm")
            return
        }
        #expect(next == now + .seconds(5))
        guard case .closeAndFail(let error, let pending) = machine.timerFired(now: now + .seconds(6)) else {
            Issue.record("expected timeout")
            return
        }
        #expect(error.code == .timeout)
        #expect(pending == [1])
        guard case .none = machine.timerFired(now: now + .seconds(7)) else {
            Issue.record("expected none")
            return
        }
    }
}

@Suite(.timeLimit(.minutes(10)), .needs(.redis)) struct MetricsTests {
    @Test func commandsErrorsLatencyAndConnectionsAreExported() async throws {
        let metrics = TestMetrics()
        var configuration = try TestEnvironment.configuration()
        // Counted exactly: no `CLUSTER SHARDS` of cluster detection before the first command.
        configuration.cluster.mode = .disabled
        let client = try withMetricsFactory(metrics) {
            try RedisClient(configuration: configuration, logger: CapturedLogs().logger())
        }
        try await RedisServerGate.shared.shared {
            _ = try await client.execute(PING())
            _ = try? await client.execute(GenericCommand("NOSUCHCOMMAND"))
        }
        #expect(try metrics.expectCounter("redis_commands_total").totalValue == 2)
        #expect(try metrics.expectCounter("redis_command_errors_total", [("kind", "server")]).totalValue == 1)
        #expect(try metrics.expectTimer("redis_command_duration_seconds").values.count == 2)
        #expect(try metrics.expectMeter("redis_connections").lastValue == 1)
    }
}
