import Foundation
import Logging
import NIOCore
import RESP
import RedisClient
import Synchronization

/// The failure of an integration test run outside `scripts/test`.
public struct MissingEnvironment: Error, CustomStringConvertible {
    public var name: String
    public init(name: String) { self.name = name }
    public var description: String { "\(self.name) is not set: run the tests through scripts/test, which starts redis-server and sets it" }
}

public enum TestEnvironment {
    public static func value(_ name: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
            throw MissingEnvironment(name: name)
        }
        return value
    }

    public static func configuration(_ name: String = "REDIS_URL") throws -> RedisConfiguration {
        var configuration = try RedisConfiguration(url: try self.value(name))
        configuration.connectTimeout = .seconds(5)
        configuration.commandTimeout = .seconds(10)
        configuration.reconnect.initialDelay = .milliseconds(20)
        configuration.reconnect.maximumDelay = .milliseconds(500)
        return configuration
    }

    /// A key prefix unique to one test, so tests running in parallel never share keys.
    public static func uniqueKey(_ name: String = "") -> String {
        "test:\(UUID().uuidString.prefix(8)):\(name)"
    }
}

/// Log lines kept in memory, so tests can look at them.
public final class CapturedLogs: Sendable {
    public init() {}

    private let lines = Mutex<[String]>([])

    public var all: [String] { self.lines.withLock { $0 } }

    public func logger(level: Logger.Level = .debug) -> Logger {
        var logger = Logger(label: "redis-tests") { _ in CapturingHandler(logs: self) }
        logger.logLevel = level
        return logger
    }

    fileprivate func append(_ line: String) { self.lines.withLock { $0.append(line) } }
}

private struct CapturingHandler: LogHandler {
    let logs: CapturedLogs
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .debug

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = self.metadata.merging(event.metadata ?? [:]) { $1 }
        self.logs.append("\(event.level) \(event.message) \(merged)")
    }
}

/// Lets tests share the redis-server while a test that kills it waits for them and runs alone.
///
/// A readers-writer gate for the whole test process, first come first served: every test module
/// that talks to the server takes it shared, and a test that kills and restarts the server takes
/// it exclusively, so no other test ever sees the server down.
public actor RedisServerGate {
    /// The one gate of the process.
    public static let shared = RedisServerGate()
    private var holders = 0
    private var exclusiveHeld = false
    private var waiting: [(exclusive: Bool, continuation: CheckedContinuation<Void, Never>)] = []

    /// Waits until the server may be used shared, or alone when `exclusive`.
    public func acquire(exclusive wantsExclusive: Bool) async {
        if waiting.isEmpty, canGrant(wantsExclusive) {
            grant(wantsExclusive)
            return
        }
        await withCheckedContinuation { waiting.append((wantsExclusive, $0)) }
    }

    /// Gives back what ``acquire(exclusive:)`` granted.
    public func release(exclusive wasExclusive: Bool) {
        if wasExclusive { exclusiveHeld = false } else { holders -= 1 }
        while let first = waiting.first, canGrant(first.exclusive) {
            waiting.removeFirst()
            grant(first.exclusive)
            first.continuation.resume()
        }
    }

    /// Runs `body` while holding the server shared.
    public func shared<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        await acquire(exclusive: false)
        defer { release(exclusive: false) }
        return try await body()
    }

    /// Runs `body` while holding the server alone.
    public func exclusive<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        await acquire(exclusive: true)
        defer { release(exclusive: true) }
        return try await body()
    }

    private func canGrant(_ wantsExclusive: Bool) -> Bool {
        wantsExclusive ? !exclusiveHeld && holders == 0 : !exclusiveHeld
    }

    private func grant(_ wantsExclusive: Bool) {
        if wantsExclusive { exclusiveHeld = true } else { holders += 1 }
    }
}

/// Runs `body` with a running client against the shared server.
public func withClient(
    _ configuration: RedisConfiguration? = nil,
    logs: CapturedLogs = CapturedLogs(),
    _ body: @Sendable @escaping (RedisClient) async throws -> Void
) async throws {
    let configuration = try configuration ?? TestEnvironment.configuration()
    return try await RedisServerGate.shared.shared {
        try await runClient(configuration, logs: logs, body)
    }
}

/// Runs `body` with a running client, outside the gate (for tests that already hold it).
public func runClient(
    _ configuration: RedisConfiguration,
    logs: CapturedLogs = CapturedLogs(),
    _ body: @Sendable @escaping (RedisClient) async throws -> Void
) async throws {
    let client = try RedisClient(configuration: configuration, logger: logs.logger())
    try await withThrowingTaskGroup(of: Bool.self) { group in
        group.addTask {
            try await client.run()
            return false
        }
        group.addTask {
            try await body(client)
            return true
        }
        defer { group.cancelAll() }
        while let finished = try await group.next() {
            if finished {
                group.cancelAll()
                return
            }
        }
    }
}

extension RedisSubscription.Event {
    public var message: RedisPubSubMessage? {
        if case .message(let message) = self { return message }
        return nil
    }

    public var gap: RedisSubscription.Gap? {
        if case .gap(let gap) = self { return gap }
        return nil
    }
}

/// Runs the bodies given to it one at a time, in arrival order, beside every test that does not use it.
public actor OneAtATime {
    /// Lets one test at a time run servers of its own (a Sentinel deployment, a cluster) and fail
    /// them over: each starts five or six servers, which is load enough for two cores. It does not
    /// hold the shared redis-server, which those tests never touch, so the other tests go on beside it.
    public static let privateDeployments = OneAtATime()
    /// Lets one compiler or type checker (mypy, tsc, node's test runner, swiftc) run at a time: each
    /// keeps a core busy for seconds, and several at once on this two-core machine starved the tests
    /// that time Redis replies.
    public static let tools = OneAtATime()

    private var held = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    /// Runs `body` once no other body given to this gate runs.
    public func run<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        if held {
            await withCheckedContinuation { waiting.append($0) }
        } else {
            held = true
        }
        defer {
            if waiting.isEmpty { held = false } else { waiting.removeFirst().resume() }
        }
        return try await body()
    }
}

/// One command to the server on `port` of 127.0.0.1, on a connection of its own: for tests that
/// look at the servers they started behind the client's back.
/// - Parameters:
///   - certificateAuthority: The CA to trust, for a server that speaks TLS only.
///   - password: The `default` user's password, if the server needs one.
public func askServer(
    port: Int, certificateAuthority: String? = nil, password: String? = nil, commandTimeout: Duration = .seconds(5), _ arguments: [String]
) async throws -> RESPValue {
    var configuration = RedisConfiguration(host: "127.0.0.1", port: port)
    if let certificateAuthority { configuration.tls = try .require(certificateAuthorityFile: certificateAuthority) }
    configuration.password = password
    configuration.connectTimeout = .seconds(1)
    configuration.commandTimeout = commandTimeout
    let connection = try await RedisConnection.connect(configuration: configuration, logger: Logger(label: "test.servers"))
    do {
        let reply = try await connection.execute(GenericCommand(arguments: arguments.map { ByteBuffer(string: $0) }))
        await connection.close()
        return reply
    } catch {
        await connection.close()
        throw error
    }
}
