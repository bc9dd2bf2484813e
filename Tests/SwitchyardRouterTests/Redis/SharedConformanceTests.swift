import Foundation
import JSONSchema
import Logging
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
            let publishes = kind == "publish" || kind == "publish_batch"
            switch self {
            case .swift: return false
            case .pythonPublishesSwiftReads: return publishes
            case .swiftPublishesPythonReads: return !publishes
            }
        }
    }

    @Test("the cases hold in Swift and across languages", arguments: Array(cases.indices), Languages.allCases)
    func sharedCase(index: Int, languages: Languages) async throws {
        let testCase = Self.cases[index]
        let name = testCase["name"]?.stringValue ?? "case \(index)"
        try await EngineKind.redis.isolated {
            let url = try RedisTestServer.requireURL()
            let engine = RedisTestServer.makeEngine(url: url, configuration: .init())
            let steps = Self.substitute(testCase["steps"] ?? [], Self.namesForRun())
            for (number, step) in (steps.arrayValue ?? []).enumerated() {
                let kind = try Self.kind(of: step)
                let answer = languages.runsInPython(kind)
                    ? try await Self.python(step, url: url)
                    : try await Self.swift(kind, step[kind] ?? .null, engine: engine)
                let holds = Self.matches(step["expect"] ?? .null, answer)
                #expect(
                    holds,
                    "\(name), step \(number + 1) (\(kind) by \(languages.runsInPython(kind) ? "Python" : "Swift")): \(step.serialized())\nanswered \(answer.serialized())")
            }
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

    /// One step by the Swift router.
    static func swift(_ kind: String, _ arguments: JSONValue, engine: RedisEngine) async throws -> JSONValue {
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
            "sequence_number": receipt.sequenceNumber.map { .int($0) } ?? .null, "duplicate": .bool(receipt.duplicate),
            "event_id": .string(receipt.eventID.description),
        ]
    }

    static func history(_ envelopes: [Envelope]) -> JSONValue {
        [
            "sequences": .array(envelopes.map { .int($0.sequenceNumber) }), "payloads": .array(envelopes.map(\.data)),
            "event_times": .array(envelopes.map { $0.eventTime.map { .string($0) } ?? .null }),
            "metadata": .array(envelopes.map { .object($0.metadata) }),
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
