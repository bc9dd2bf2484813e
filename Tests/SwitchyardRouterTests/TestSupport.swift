import JSONSchema
import Logging
import RedisTestSupport
import Switchyard
import Synchronization
import Testing

/// An engine the conformance suite runs against.
struct EngineKind: Sendable, CustomStringConvertible {
    let description: String
    let make: @Sendable (_ clock: any SwitchyardClock, _ maxEntriesPerChannel: Int) -> any Engine

    static let embedded = EngineKind(description: "embedded") { clock, maxEntries in
        EmbeddedEngine(configuration: .init(maxEntriesPerChannel: maxEntries), clock: clock, logger: Logger(label: "test.engine"))
    }

    /// Every engine the run has: the embedded one always, Redis, Redis under Sentinel, Redis Cluster and
    /// Kafka where `scripts/test` started them (a plain `swift test` without `REDIS_URL` runs the embedded cases only).
    static let all: [EngineKind] = [.embedded]
        + (TestServer.areRequired || TestServer.redis.isConfigured ? [.redis] : [])
        + (TestServer.areRequired || TestServer.sentinel.isConfigured ? [.sentinel] : [])
        + (TestServer.areRequired || TestServer.cluster.isConfigured ? [.cluster] : [])
        + (TestServer.areRequired || TestServer.kafka.isConfigured ? [.kafka] : [])

    /// Runs `body` with channel names of its own (``Fixtures/channel(_:)`` and ``Fixtures/pattern(_:)``
    /// insert a unique segment after `test:`); on Redis, with shared use of the server and every
    /// engine made in `body` running.
    func isolated(_ body: () async throws -> Void) async throws {
        try await Fixtures.$namespace.withValue("n\(UInt32.random(in: .min ... .max))") {
            guard description == "redis" || description == "sentinel" || description == "cluster" else { return try await body() }
            try await RedisTestServer.shared(body)
        }
    }
}

enum Fixtures {
    static let schema: JSONValue = [
        "type": "object", "required": ["n"],
        "properties": ["n": ["type": "integer"], "publisher": ["type": "integer"], "note": ["type": "string"]],
    ]

    static let contracts: ContractRegistry = {
        let policy = ChannelPolicy(retentionSeconds: 60, maxSizeBytes: 4096)
        return try! ContractRegistry([try! Contract(channel: try! ChannelPattern("test:*"), schema: schema, policy: policy)])
    }()

    /// The unique segment of the running test's channels, inserted after `test:`.
    @TaskLocal static var namespace = ""

    static func isolate(_ text: String) -> String {
        guard !namespace.isEmpty, text.hasPrefix("test:"), !text.hasPrefix("test:\(namespace).") else { return text }
        return "test:\(namespace)." + text.dropFirst(5)
    }
    static func channel(_ name: String) -> ChannelName { try! ChannelName(isolate(name)) }
    static func pattern(_ text: String) -> ChannelPattern { try! ChannelPattern(isolate(text)) }
    static func payload(_ n: Int, publisher: Int = 0) -> JSONValue { ["n": .int(Int64(n)), "publisher": .int(Int64(publisher))] }

    /// A router over a new engine of `kind`.
    static func router(
        _ kind: EngineKind, clock: any SwitchyardClock = SystemClock(), mode: RouterConfiguration.Mode = .live,
        rateLimits: Bool = false, overrides: [RouterConfiguration.PolicyOverride] = [], maxEntries: Int = 1_000_000,
        seed: UInt64? = nil
    ) -> Router {
        router(kind.make(clock, maxEntries), clock: clock, mode: mode, rateLimits: rateLimits, overrides: overrides, seed: seed)
    }

    /// A router on `engine` (a kind's engine, perhaps wrapped by a test), configured as the one
    /// over a kind is.
    static func router(
        _ engine: any Engine, clock: any SwitchyardClock = SystemClock(), mode: RouterConfiguration.Mode = .live,
        rateLimits: Bool = false, overrides: [RouterConfiguration.PolicyOverride] = [], seed: UInt64? = nil
    ) -> Router {
        Router(
            contracts: contracts, engine: engine,
            configuration: RouterConfiguration(
                source: "tests", mode: mode, enforcesRateLimits: rateLimits, policyOverrides: overrides,
                eventIDs: seed.map { .seeded($0) } ?? .system, clock: clock),
            logger: Logger(label: "test.router"))
    }
}

/// Envelopes a handler saw, in order, with a way to wait for them.
final class Collector: Sendable {
    private let seen = Mutex<[Envelope]>([])

    func record(_ envelope: Envelope) { seen.withLock { $0.append(envelope) } }
    var envelopes: [Envelope] { seen.withLock { $0 } }
    var count: Int { seen.withLock { $0.count } }
}

/// Runs `operation`, failing it with a timeout error after `timeout`.
func withTimeout<T: Sendable>(_ timeout: Duration, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            // The deadline itself, raced against the operation.
            try await Task.sleep(for: timeout)
            throw TimedOut()
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

struct TimedOut: Error {}

/// Suspends until the task is cancelled.
func suspendUntilCancelled() async {
    let (stream, continuation) = AsyncStream.makeStream(of: Never.self)
    await withTaskCancellationHandler {
        for await _ in stream {}
    } onCancel: {
        continuation.finish()
    }
}

/// A shared integer for closures.
final class SharedInt: Sendable {
    private let storage: Atomic<Int>
    init(_ value: Int = 0) { storage = Atomic(value) }
    var value: Int { storage.load(ordering: .sequentiallyConsistent) }
    func set(_ value: Int) { storage.store(value, ordering: .sequentiallyConsistent) }
    @discardableResult func increment() -> Int { storage.add(1, ordering: .sequentiallyConsistent).newValue }
}

/// Lines of text recorded by closures, in order.
final class Lines: Sendable {
    private let storage = Mutex<[String]>([])
    func append(_ line: String) { storage.withLock { $0.append(line) } }
    var count: Int { storage.withLock { $0.count } }
    var all: [String] { storage.withLock { $0 } }
}

extension Router {
    /// Consumes `channel` as `group` until `handled` events were handled and `dead` dead-lettered,
    /// then a little longer; returns what the handler saw and the channel's dead letters.
    func consumed(group: String, channel: ChannelName, handled: Int, dead: Int = 0) async throws -> (handled: [Envelope], deadLetters: [DeadLetter]) {
        let seen = Collector()
        let options = ConsumerOptions(blockTimeout: .milliseconds(50))
        return try await withConsumer(group: group, patterns: [try ChannelPattern(channel.rawValue)], options: options, handler: { seen.record($0) }) {
            let done = try await eventually {
                let letters = try await self.deadLetters(channel)
                return seen.count >= handled && letters.count >= dead
            }
            #expect(done, "handled \(seen.count) of \(handled)")
            // A settle period, not a wait for an event: what must not happen (a redelivery) has none to await.
            try await Task.sleep(for: .milliseconds(100))
            return (seen.envelopes, try await self.deadLetters(channel))
        }
    }
}
