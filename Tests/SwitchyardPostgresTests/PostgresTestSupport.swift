import Foundation
import JSONSchema
import Logging
import PostgresNIO
import RedisClient
import RedisTestSupport
import Switchyard
import SwitchyardPostgres
import SwitchyardRedis
import Synchronization
import Testing

/// A database of its own for one test, migrated, with a running pool, a running Redis router on
/// `REDIS_URL` and channel names unique to the test.
struct TestDatabase: Sendable {
    let name: String
    let url: PostgresURL
    let client: PostgresClient
    let router: Router
    let engine: RedisEngine
    let logger: Logger
    let prefix: String

    static let schema: JSONValue = [
        "type": "object", "required": ["n"],
        "properties": ["n": ["type": "integer"], "writer": ["type": "integer"], "note": ["type": "string"]],
    ]

    static let contracts: ContractRegistry = {
        let policy = ChannelPolicy(retentionSeconds: 3600, maxSizeBytes: 4096)
        return try! ContractRegistry([try! Contract(channel: try! ChannelPattern("test:*"), schema: schema, policy: policy)])
    }()

    /// A channel unique to this test.
    func channel(_ name: String) -> ChannelName { try! ChannelName("test:\(prefix).\(name)") }

    /// The outbox of this database with the test contracts.
    var outbox: Outbox { Outbox(client: client, contracts: Self.contracts, logger: logger) }

    /// A relay on this database publishing through the test router.
    func relay(_ configuration: Relay.Configuration = Relay.Configuration(pollInterval: .milliseconds(50), retryDelay: .milliseconds(100))) throws -> Relay {
        Relay(postgres: try url.connectionConfiguration(), router: router, configuration: configuration, logger: logger)
    }

    /// What Redis holds for a channel, oldest first.
    func stored(_ channel: ChannelName) async throws -> [Envelope] {
        try await router.replay(try ChannelPattern(channel.rawValue), limit: 100_000)
    }

    /// Runs SQL that returns one integer.
    func count(_ sql: String) async throws -> Int {
        var result = 0
        for try await value in try await client.query(PostgresQuery(unsafeSQL: sql)).decode(Int.self) { result = value }
        return result
    }

    static func adminURL() throws -> PostgresURL { try PostgresURL(try TestEnvironment.value("POSTGRES_URL")) }

    /// Makes the database, runs `body` with it, drops it. Holds the Redis server gate shared.
    /// - Parameter redisVariable: The variable naming the Redis the router runs on; `REDIS_URL` by default.
    static func with(adminURL: PostgresURL? = nil, redisVariable: String = "REDIS_URL", _ body: (TestDatabase) async throws -> Void) async throws {
        let admin = try adminURL ?? Self.adminURL()
        let name = "sy_\(UInt32.random(in: .min ... .max))"
        var logger = Logger(label: "test.postgres")
        logger.logLevel = .warning
        try await withAdmin(admin, logger: logger) { connection in
            try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
        }
        var url = admin
        url.database = name
        let client = PostgresClient(configuration: url.clientConfiguration, backgroundLogger: logger)
        var redis = try TestEnvironment.configuration(redisVariable)
        redis.connectTimeout = .seconds(2)
        let redisClient = try RedisClient(configuration: redis, logger: logger)
        let engine = RedisEngine(client: redisClient, logger: logger)
        let router = Router(
            contracts: contracts, engine: engine,
            configuration: RouterConfiguration(source: "pg-tests", enforcesRateLimits: false), logger: logger)
        let database = TestDatabase(
            name: name, url: url, client: client, router: router, engine: engine, logger: logger,
            prefix: "pg\(UInt32.random(in: .min ... .max))")
        await RedisServerGate.shared.acquire(exclusive: false)
        let outcome: Result<Void, any Error> = await withTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            group.addTask { try? await router.run() }
            defer { group.cancelAll() }
            do {
                try await Migrations.apply(client: client, logger: logger)
                try await body(database)
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        await RedisServerGate.shared.release(exclusive: false)
        try? await withAdmin(admin, logger: logger) { connection in
            try await connection.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"), logger: logger)
        }
        try outcome.get()
    }

    /// Runs `body` on a single connection to `url`.
    @discardableResult
    static func withAdmin<T: Sendable>(_ url: PostgresURL, logger: Logger, _ body: (PostgresConnection) async throws -> T) async throws -> T {
        let connection = try await PostgresConnection.connect(
            on: PostgresClient.defaultEventLoopGroup.any(), configuration: try url.connectionConfiguration(), id: 1, logger: logger
        ).get()
        do {
            let result = try await body(connection)
            try await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }

    /// Runs `body` while `service` runs in a child task; cancels it afterwards.
    func running<T: Sendable>(_ relay: Relay, _ body: () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await relay.run() }
            defer { group.cancelAll() }
            return try await body()
        }
    }
}

/// The root of the package, for files the tests run (docs/examples, the built binary).
enum PackageRoot {
    static let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The built `switchyard` binary, next to the test bundle.
    static let binary: String = {
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [directory, directory.deletingLastPathComponent(), Bundle.main.bundleURL] {
            let path = candidate.appendingPathComponent("switchyard").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return url.appendingPathComponent(".build/debug/switchyard").path
    }()
}

/// Runs a program to its end and returns its exit status and output.
func runProcess(_ executable: String, _ arguments: [String]) async throws -> (status: Int32, output: String, errors: String) {
    let result = try await runProgram(executable, arguments)
    return (result.status, result.stdout, result.stderr)
}

/// Checks the invariants of a channel in Redis: no duplicate event ids, sequence numbers 1…N.
func expectGapFreeAndUnique(_ envelopes: [Envelope], sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(Set(envelopes.map(\.eventID)).count == envelopes.count, "no event is stored twice", sourceLocation: sourceLocation)
    #expect(envelopes.map(\.sequenceNumber) == Array(1...Int64(max(envelopes.count, 1))).prefix(envelopes.count).map { $0 },
            "sequence numbers have no gap", sourceLocation: sourceLocation)
}

extension JSONValue {
    /// The integer, or -1 when this is not one.
    var integer: Int64 {
        if case .int(let value) = self { return value }
        return -1
    }
}

/// A shared integer for concurrent closures.
final class SharedCounter: Sendable {
    private let storage = Atomic<Int64>(0)
    init() {}
    @discardableResult func next() -> Int64 { storage.add(1, ordering: .relaxed).newValue }
    var value: Int64 { storage.load(ordering: .relaxed) }
}

/// A value shared by concurrent closures.
final class Shared<Value: Sendable>: Sendable {
    private let storage: Mutex<Value>
    init(_ value: Value) { storage = Mutex(value) }
    func withLock<T: Sendable>(_ body: (inout Value) -> T) -> T { storage.withLock { body(&$0) } }
}

