import Foundation
import JSONSchema
import Logging
import RedisClient
import RedisTestSupport
import Switchyard
import SwitchyardRedis
import Synchronization
import Testing

/// The delivery promises written once as data (`Tests/Conformance/delivery.json`), run with the
/// Swift router on Redis, and across languages: the Python package
/// (`clients/python/tests/conformance_runner.py`) publishes while Swift consumes, subscribes and
/// replays, and the other way round. pytest runs the same cases with Python alone.
@Suite("Shared delivery conformance: the Swift router and the Python package", .needs(.redis, .python))
struct SharedConformanceTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let document: JSONValue = {
        let url = root.appendingPathComponent("Tests/Conformance/delivery.json")
        return try! JSONValue(parsing: Array(try! Data(contentsOf: url)))
    }()
    static let cases: [JSONValue] = document["cases"]?.arrayValue ?? []

    /// Who runs which step.
    enum Languages: String, CaseIterable, Sendable, CustomStringConvertible {
        /// Every step by the Swift router.
        case swift
        /// Publishes by Python; groups, subscriptions and reads by Swift.
        case pythonPublishesSwiftReads
        /// Publishes by Swift; groups, subscriptions and reads by Python.
        case swiftPublishesPythonReads

        var description: String { rawValue }

        func runsInPython(_ kind: String) -> Bool {
            let publishes = kind == "publish" || kind == "publish_batch" || kind == "flush_spool"
            switch self {
            case .swift: return false
            case .pythonPublishesSwiftReads: return publishes
            case .swiftPublishesPythonReads: return !publishes
            }
        }
    }

    // One case at a time: each step in Python starts a process, and two dozen cases at once kept
    // both cores busy at the start of the suite.
    @Test("the cases hold in Swift and across languages", .serialized, arguments: Array(cases.indices), Languages.allCases)
    func sharedCase(index: Int, languages: Languages) async throws {
        let testCase = Self.cases[index]
        let name = testCase["name"]?.stringValue ?? "case \(index)"
        try await EngineKind.redis.isolated {
            let server = testCase["server"] == "private" ? try await PrivateRedis.start() : nil
            do {
                try await Self.run(testCase, name: name, languages: languages, server: server)
            } catch {
                await server?.stop()
                throw error
            }
            await server?.stop()
        }
    }

    /// Runs one case's steps, each by the language `languages` gives it.
    static func run(_ testCase: JSONValue, name: String, languages: Languages, server: PrivateRedis?) async throws {
        let url = try server?.url ?? RedisTestServer.requireURL()
        let engines = Engines(url: url)
        var names = namesForRun()
        let spool = NSTemporaryDirectory() + "switchyard-conformance-\(UUID().uuidString).spool"
        defer { for file in [spool, spool + ".jsonl"] { try? FileManager.default.removeItem(atPath: file) } }
        names["$SPOOL"] = spool + (languages == .swift || languages == .swiftPublishesPythonReads ? "" : ".jsonl")
        let steps = substitute(testCase["steps"] ?? [], names)
        for (number, step) in (steps.arrayValue ?? []).enumerated() {
            let kind = try Self.kind(of: step)
            if kind == "stop_redis" || kind == "start_redis" {
                let server = try #require(server, "\(kind) needs \"server\": \"private\"")
                if kind == "stop_redis" { await server.stop() } else { try await server.restart() }
                continue
            }
            let answer = languages.runsInPython(kind)
                ? try await python(step, url: url)
                : try await swift(kind, step[kind] ?? .null, engines: engines)
            let holds = matches(step["expect"] ?? .null, answer)
            #expect(
                holds,
                "\(name), step \(number + 1) (\(kind) by \(languages.runsInPython(kind) ? "Python" : "Swift")): \(step.serialized())\nanswered \(answer.serialized())")
        }
    }

    @Test("matching is strict where it must be")
    func matching() {
        #expect(Self.matches(["a": [1, 2]], ["a": [1, 2], "b": 3]))
        #expect(!Self.matches(["a": [1, 2]], ["a": [1, 2, 3]]))
        #expect(!Self.matches(["duplicate": false], ["duplicate": 0]))
        #expect(!Self.matches(["x": ["y": 1]], ["x": ["y": 2]]))
        #expect(!Self.matches(["missing": .null], [:]))
        #expect(Self.matches(["n": 1], ["n": 1.0]))
    }

    // MARK: - Steps

    static func kind(of step: JSONValue) throws -> String {
        try #require(step.objectValue?.keys.first { $0 != "expect" }, "a step names what it does")
    }

    /// One step by the Python package, in a process of its own.
    static func python(_ step: JSONValue, url: String) async throws -> JSONValue {
        let runner = root.appendingPathComponent("clients/python/tests/conformance_runner.py").path
        let result = try await PythonInteropTests.run([runner, "--url", url], stdin: step.serialized())
        try #require(result.status == 0, "the Python runner failed: \(result.errors)")
        return try JSONValue(parsing: Array(result.output.utf8))
    }

    /// The engines of one case run: one plain, and one per spool file (an engine owns its spool).
    final class Engines: Sendable {
        let url: String
        let plain: RedisEngine
        private let spooling = Mutex<[String: RedisEngine]>([:])

        init(url: String) {
            self.url = url
            plain = RedisTestServer.makeEngine(url: url, configuration: .init())
        }

        func engine(spool: String?) -> RedisEngine {
            guard let spool else { return plain }
            return spooling.withLock { engines in
                if let engine = engines[spool] { return engine }
                let engine = RedisTestServer.makeEngine(url: url, configuration: .init(spool: .init(path: spool), spoolRetryInterval: .milliseconds(100)))
                engines[spool] = engine
                return engine
            }
        }
    }

    /// One step by the Swift router.
    static func swift(_ kind: String, _ arguments: JSONValue, engines: Engines) async throws -> JSONValue {
        let engine = engines.engine(spool: arguments["spool"]?.stringValue)
        if kind == "flush_spool" {
            // The engine replays its spool by itself once Redis answers: wait for that.
            let drained = try await eventually(timeout: .seconds(20)) { try await engine.spoolDepth == 0 }
            return ["depth": .int(drained ? 0 : Int64(try await engine.spoolDepth))]
        }
        let router = Router(
            contracts: try .shipped(), engine: engine,
            configuration: RouterConfiguration(source: arguments["source"]?.stringValue ?? "conformance"),
            logger: Logger(label: "test.conformance"))
        do {
            switch kind {
            case "publish":
                let receipt = try await router.publish(
                    to: try ChannelName(arguments["channel"]?.stringValue ?? ""), payload: arguments["payload"] ?? .null,
                    metadata: arguments["metadata"]?.objectValue ?? [:], eventID: arguments["event_id"]?.stringValue.flatMap(EventID.init))
                return answer(receipt)
            case "publish_batch":
                let requests = try (arguments["events"]?.arrayValue ?? []).map { event in
                    PublishRequest(
                        channel: try ChannelName(event["channel"]?.stringValue ?? ""), payload: event["payload"] ?? .null,
                        metadata: event["metadata"]?.objectValue ?? [:], eventID: event["event_id"]?.stringValue.flatMap(EventID.init))
                }
                return ["receipts": .array(try await router.publish(requests).map(answer))]
            case "replay":
                let since = arguments["since"].flatMap { $0.doubleValue }.map { ReplayBound.sequence(Int64($0)) } ?? .beginning
                let until = arguments["until"].flatMap { $0.doubleValue }.map { ReplayBound.sequence(Int64($0)) }
                return history(try await router.replay(try ChannelPattern(channel(arguments)), since: since, until: until))
            case "latest":
                let latest = try await router.latest(try ChannelName(channel(arguments)))
                return ["sequence_number": latest.map { .int($0.sequenceNumber) } ?? .null]
            case "subscribe":
                return try await subscribe(router, arguments)
            case "consume":
                return try await consume(router, arguments)
            default:
                Issue.record("unknown step \(kind)")
                return .null
            }
        } catch let error as SwitchyardError {
            return ["error": error.body]
        }
    }

    static func channel(_ arguments: JSONValue) -> String { arguments["channel"]?.stringValue ?? "" }

    static func answer(_ receipt: PublishReceipt) -> JSONValue {
        [
            "sequence_number": receipt.isSpooled ? .null : receipt.sequenceNumber.map { .int($0) } ?? .null,
            "duplicate": .bool(receipt.duplicate), "event_id": .string(receipt.eventID.description), "spooled": .bool(receipt.isSpooled),
        ]
    }

    static func history(_ envelopes: [Envelope]) -> JSONValue {
        [
            "sequences": .array(envelopes.map { .int($0.sequenceNumber) }), "payloads": .array(envelopes.map(\.data)),
            "event_times": .array(envelopes.map { $0.eventTime.map { .string($0) } ?? .null }),
            "metadata": .array(envelopes.map { .object($0.metadata) }),
            "event_ids": .array(envelopes.map { .string($0.eventID.description) }),
        ]
    }

    static func subscribe(_ router: Router, _ arguments: JSONValue) async throws -> JSONValue {
        let name = try ChannelName(channel(arguments))
        let since = Int64(arguments["since_sequence"]?.doubleValue ?? 1)
        let count = Int(arguments["count"]?.doubleValue ?? 0)
        let subscription = router.subscribe([try ChannelPattern(name.rawValue)], from: [name: since])
        let collected = try await withThrowingTaskGroup(of: [Envelope]?.self) { tasks in
            tasks.addTask {
                var seen: [Envelope] = []
                for try await envelope in subscription {
                    seen.append(envelope)
                    if seen.count == count { break }
                }
                return seen
            }
            tasks.addTask {
                try await Task.sleep(for: .seconds(10))
                return nil
            }
            for payload in arguments["then_publish"]?.arrayValue ?? [] {
                try await router.publish(to: name, payload: payload)
            }
            let first = try await tasks.next() ?? nil
            tasks.cancelAll()
            return first ?? []
        }
        return history(collected)
    }

    /// Runs a consumer until the group has no lag and nothing pending, counting each event's deliveries.
    static func consume(_ router: Router, _ arguments: JSONValue) async throws -> JSONValue {
        let name = try ChannelName(channel(arguments))
        let group = arguments["group"]?.stringValue ?? "conformance"
        let failing = Set((arguments["fail_on"]?.arrayValue ?? []).compactMap { $0.doubleValue.map { Int64($0) } })
        let handled = Handled()
        let options = ConsumerOptions(
            maxDeliveries: Int(arguments["max_deliveries"]?.doubleValue ?? 5),
            backoff: .init(initial: .milliseconds(10), multiplier: 2, maximum: .milliseconds(100)),
            blockTimeout: .milliseconds(100))
        try await router.withConsumer(group: group, patterns: [try ChannelPattern(name.rawValue)], options: options, handler: { envelope in
            handled.record(envelope.sequenceNumber)
            if case .int(let n)? = envelope.data["n"], failing.contains(n) {
                throw SwitchyardError(.handlerError, "refused n=\(n)")
            }
        }) {
            let settled = try await eventually(timeout: .seconds(20)) {
                let info = try await router.groupInfo(group, on: name)
                return info.lag == 0 && info.pending == 0
            }
            #expect(settled, "group \(group) did not settle on \(name)")
        }
        let letters = try await router.deadLetters(name).filter { $0.group == group }.map { letter -> JSONValue in
            [
                "sequence_number": .int(letter.envelope.sequenceNumber), "group": .string(letter.group),
                "deliveries": .int(Int64(letter.deliveries)), "error": letter.error,
            ]
        }
        let pending = try await router.groupInfo(group, on: name).pending
        return ["handled": .array(handled.calls), "dead_letters": .array(letters), "pending": .int(Int64(pending))]
    }

    /// `[sequence number, delivery]` of each handler call, in order.
    final class Handled: Sendable {
        private let state = Mutex<(counts: [Int64: Int64], calls: [JSONValue])>(([:], []))

        func record(_ sequence: Int64) {
            state.withLock { state in
                state.counts[sequence, default: 0] += 1
                state.calls.append([.int(sequence), .int(state.counts[sequence]!)])
            }
        }

        var calls: [JSONValue] { state.withLock { $0.calls } }
    }

    // MARK: - Names and matching

    static func namesForRun() -> [String: String] {
        let run = String(UInt64.random(in: .min ... .max), radix: 36)
        var names = ["$C": "user:conformance-\(run)-c", "$D": "user:conformance-\(run)-d"]
        for number in 1..<10 { names["$E\(number)"] = EventID.generate().description }
        return names
    }

    static func substitute(_ value: JSONValue, _ names: [String: String]) -> JSONValue {
        switch value {
        case .string(let text): return names[text].map { .string($0) } ?? value
        case .array(let elements): return .array(elements.map { substitute($0, names) })
        case .object(let object):
            var copy = JSONObject()
            for (key, member) in object { copy[key] = substitute(member, names) }
            return .object(copy)
        default: return value
        }
    }

    /// Whether `answer` has every member `expected` gives, with that value (arrays element by element).
    static func matches(_ expected: JSONValue, _ answer: JSONValue) -> Bool {
        switch (expected, answer) {
        case (.object(let wanted), .object(let got)):
            return wanted.allSatisfy { key, value in got[key].map { matches(value, $0) } ?? false }
        case (.array(let wanted), .array(let got)):
            return wanted.count == got.count && zip(wanted, got).allSatisfy(matches)
        case (.bool, _), (_, .bool):
            return expected == answer
        default:
            return expected == answer
        }
    }
}

/// A redis-server of one case's own, with an append-only file, so a stop and a start keep its data.
final class PrivateRedis: Sendable {
    let port: Int
    let directory: String
    private let process = Mutex<Process?>(nil)

    var url: String { "redis://127.0.0.1:\(port)" }

    private init(port: Int, directory: String) {
        self.port = port
        self.directory = directory
    }

    static func start() async throws -> PrivateRedis {
        let directory = NSTemporaryDirectory() + "switchyard-private-redis-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let server = PrivateRedis(port: try freeLoopbackPort(), directory: directory)
        try await server.restart()
        return server
    }

    func restart() async throws {
        let launched = Process()
        launched.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        launched.arguments = [
            "redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
            "--appendfsync", "always", "--dir", directory,
        ]
        launched.standardOutput = FileHandle.nullDevice
        launched.standardError = FileHandle.nullDevice
        try launched.run()
        process.withLock { $0 = launched }
        var configuration = try RedisConfiguration(url: url)
        configuration.connectTimeout = .seconds(1)
        let up = try await eventually(timeout: .seconds(10), every: .milliseconds(50)) {
            await RedisServerProcess.answersPing(configuration: configuration)
        }
        try #require(up, "the private redis-server did not start on port \(port)")
    }

    /// Stops the server and waits for it to exit, without blocking a thread of the concurrency
    /// pool. SIGKILL: every write is already in the append-only file (`appendfsync always`), and a
    /// redis-server started from the test process inherits its blocked signals, SIGTERM among them
    /// (`SigBlk` in `/proc/PID/status`), so it never sees a SIGTERM.
    func stop() async {
        guard let running = process.withLock({ current -> Process? in defer { current = nil }; return current }) else { return }
        kill(running.processIdentifier, SIGKILL)
        await waitForExit(running)
    }

    deinit {
        process.withLock { current in if let current { kill(current.processIdentifier, SIGKILL) } }
        try? FileManager.default.removeItem(atPath: directory)
    }
}
