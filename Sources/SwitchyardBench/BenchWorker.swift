import Foundation
import Logging
import Switchyard
import SwitchyardServer
import Synchronization

/// One role of `switchyard bench` run in a process of its own, as a user would run it: the
/// consumer groups, or the WebSocket clients (`switchyard bench --group-process --ws-process`).
///
/// The bench process starts the worker and talks to it in JSON lines. The worker sets its role up
/// (its consumers joined their groups, or its clients subscribed), writes a `ready` line on its
/// standard output, and counts what arrives. After the last publish the bench process writes a
/// `stop` line on the worker's standard input: the measured window, how many events were
/// acknowledged and until when to wait for them. The worker waits for every acknowledged event (or
/// that time), writes one `result` line (its sequence numbers as runs, its duplicates and its
/// latency summary) and exits when its standard input closes; it also exits when its input closes
/// before the end, so it never outlives the bench process. A worker that fails writes an `error`
/// line and exits with status 2.
///
/// Latencies are measured as in the bench process, from the due time each event carries on the
/// machine's monotonic clock, which every process shares.
public struct BenchWorker: Sendable {
    /// What the worker runs.
    public enum Role: Sendable, Equatable {
        /// Consumer groups named `names`, each of `consumersPerGroup` consumers, on a Redis engine.
        case groups(redisURL: String, names: [String], consumersPerGroup: Int)
        /// `count` WebSocket clients of the gateway at `gatewayURL` (`ws://HOST:PORT/v1/ws`),
        /// sending `authorization` as their `Authorization` header when given.
        case webSocketClients(gatewayURL: String, count: Int, authorization: String?)
    }

    /// The role.
    public var role: Role
    /// The channels the groups consume or the clients subscribe to, as one pattern (`PREFIX-*`).
    public var pattern: String
    /// How many events to make room for, per group or client.
    public var expected: Int
    /// The contracts folder the groups' router loads, the one the bench process's router uses
    /// (the channels' policies come from it); `nil` loads the shipped contracts.
    public var contractsFolder: String?

    /// A worker for `role` on the channels of `pattern`.
    public init(role: Role, pattern: String, expected: Int, contractsFolder: String? = nil) {
        self.role = role
        self.pattern = pattern
        self.expected = expected
        self.contractsFolder = contractsFolder
    }

    /// What the worker is called in progress lines and the report.
    var name: String {
        switch role {
        case .groups: "group process"
        case .webSocketClients: "WebSocket client process"
        }
    }

    /// Runs the role, talking to the bench process over standard input and output as the type's
    /// documentation says, and returns once the bench process has closed the worker's input.
    /// - Throws: ``BenchError`` (after writing it as an `error` line) when the role cannot be set
    ///   up or the bench process went away before the end of the run.
    public func run(logger: Logger) async throws {
        let input = WorkerInput.reading()
        let progress: @Sendable (String) -> Void = { [name] line in
            FileHandle.standardError.write(Data("bench: \(name) (pid \(getpid())): \(line)\n".utf8))
        }
        do {
            let result: WorkerMessage
            switch role {
            case .groups(let url, let names, let consumers):
                result = try await runGroups(redisURL: url, names: names, consumersPerGroup: consumers, input: input, logger: logger)
            case .webSocketClients(let url, let count, let authorization):
                result = try await runClients(url: url, count: count, authorization: authorization, input: input, progress: progress)
            }
            WorkerMessage.write(result)
        } catch {
            WorkerMessage.write(WorkerMessage(type: .error, message: "\(error)"))
            throw error
        }
        while !input.ended { try? await Task.sleep(for: .milliseconds(50)) }
    }

    private func runGroups(
        redisURL: String, names: [String], consumersPerGroup: Int, input: WorkerInput, logger: Logger
    ) async throws -> WorkerMessage {
        let contracts: ContractRegistry
        do { contracts = try contractsFolder.map { try ContractRegistry.load(from: $0) } ?? ContractRegistry.shipped() } catch {
            throw BenchError("the contracts cannot be loaded: \(error)")
        }
        let engine = try EngineSettings(redisURL: redisURL).makeEngine(logger: logger)
        let router = Router(
            contracts: contracts, engine: engine,
            configuration: RouterConfiguration(source: "switchyard-bench-worker", enforcesRateLimits: false), logger: logger)
        let pattern: ChannelPattern
        do { pattern = try ChannelPattern(self.pattern) } catch { throw BenchError("'\(self.pattern)' is not a channel pattern: \(error)") }
        let tallies = names.map { Plan.GroupTally(name: $0, keepsDueTimes: true) }
        let consumers = tallies.flatMap { tally in (1...max(1, consumersPerGroup)).map { (tally, "consumer-\($0)") } }
        let everything: @Sendable () -> MeasureWindow = { MeasureWindow(from: -.infinity, until: .infinity) }
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await router.run() }
            defer { tasks.cancelAll() }
            let stop = try await Plan.withConsumers(consumers[...], router: router, pattern: pattern, options: Plan.consumerOptions, window: everything) {
                WorkerMessage.write(WorkerMessage(type: .ready))
                let stop = try await input.stop()
                while monotonicNow() < stop.drainUntil, !tallies.allSatisfy({ tally in tally.state.withLock { $0.ledger.count } >= stop.acked }) {
                    try await Task.sleep(for: .milliseconds(20))
                }
                return stop
            }
            let window = MeasureWindow(from: stop.from, until: stop.until)
            let groups = tallies.map { tally in
                tally.state.withLock { state in
                    WorkerGroupResult(
                        name: tally.name, ranges: state.ledger.ranges, duplicates: state.ledger.duplicates,
                        latency: LatencySummary(seconds: window.select(state.latencies, dueTimes: state.dueTimes)))
                }
            }
            return WorkerMessage(type: .result, groups: groups)
        }
    }

    private func runClients(
        url: String, count: Int, authorization: String?, input: WorkerInput, progress: @escaping @Sendable (String) -> Void
    ) async throws -> WorkerMessage {
        let clients = try await WebSocketClients.connect(
            url: url, count: count, patterns: [pattern], authorization: authorization, expected: expected,
            window: { MeasureWindow(from: -.infinity, until: .infinity) }, keepsDueTimes: true, progress: progress)
        WorkerMessage.write(WorkerMessage(type: .ready, subscribed: clients.subscribed))
        let stop: WorkerStop
        do { stop = try await input.stop() } catch {
            _ = await clients.finish()
            throw error
        }
        while monotonicNow() < stop.drainUntil, clients.delivered < stop.acked * clients.subscribed {
            try? await Task.sleep(for: .milliseconds(20))
        }
        let results = await clients.finish() ?? []
        let window = MeasureWindow(from: stop.from, until: stop.until)
        return WorkerMessage(
            type: .result, clients: results.map(WorkerClientResult.init),
            latency: LatencySummary(seconds: results.flatMap { window.select($0.latencies, dueTimes: $0.dueTimes) }))
    }
}

extension MeasureWindow {
    /// The latencies whose due time falls in the window.
    func select(_ latencies: [Double], dueTimes: [Double]) -> [Double] {
        zip(latencies, dueTimes).compactMap { latency, due in due >= from && due < until ? latency : nil }
    }
}

/// A line between the bench process and a worker (``BenchWorker``).
struct WorkerMessage: Codable, Sendable {
    enum Kind: String, Codable { case ready, result, error }
    var type: Kind
    /// With `ready` from the clients: how many are subscribed.
    var subscribed: Int?
    /// With `error`: what went wrong.
    var message: String?
    /// With `result` from the groups.
    var groups: [WorkerGroupResult]?
    /// With `result` from the clients: each client's counts.
    var clients: [WorkerClientResult]?
    /// With `result` from the clients: every client's latencies in the window together.
    var latency: LatencySummary?

    /// Writes `message` as a line on standard output; nothing when no one reads it any more (the
    /// bench process went away, and this worker is about to end).
    static func write(_ message: some Encodable) {
        try? FileHandle.standardOutput.write(contentsOf: line(message))
    }

    static func line(_ message: some Encodable) -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        var data = (try? encoder.encode(message)) ?? Data(#"{"type":"error","message":"a message could not be encoded"}"#.utf8)
        data.append(UInt8(ascii: "\n"))
        return data
    }

    static func decode<Message: Decodable>(_ type: Message.Type, _ line: some StringProtocol) -> Message? {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try? decoder.decode(type, from: Data(line.utf8))
    }
}

/// What the bench process tells a worker after the last publish.
struct WorkerStop: Codable, Sendable {
    var type = "stop"
    /// The measured window's due times, ``monotonicNow()`` seconds.
    var from: Double
    var until: Double
    /// Events acknowledged to the publishers: each group and client should get this many.
    var acked: Int
    /// When to stop waiting for them, ``monotonicNow()`` seconds.
    var drainUntil: Double
}

/// One group's figures from a worker.
struct WorkerGroupResult: Codable, Sendable {
    var name: String
    /// Its distinct sequence numbers as runs (``SequenceLedger/ranges``).
    var ranges: [String: [[Int64]]]
    var duplicates: Int
    var latency: LatencySummary
}

/// One WebSocket client's counts, from a worker or from this process.
struct WorkerClientResult: Codable, Sendable {
    var subscribed: Bool
    var received: Int
    var duplicates: Int
    var gaps: Int
    var closeCode: UInt16?

    init(_ result: WebSocketClientResult) {
        subscribed = result.subscribed
        received = result.received
        duplicates = result.duplicates
        gaps = result.gaps
        closeCode = result.closeCode
    }
}

/// A worker's standard input, read on a thread of its own: the `stop` line, then its end.
final class WorkerInput: Sendable {
    private struct State {
        var stop: WorkerStop?
        var ended = false
    }
    private let state = Mutex(State())

    /// Starts reading standard input.
    static func reading() -> WorkerInput {
        let input = WorkerInput()
        Thread.detachNewThread {
            while let line = readLine() {
                if let stop = WorkerMessage.decode(WorkerStop.self, line), stop.type == "stop" {
                    input.state.withLock { $0.stop = stop }
                }
            }
            input.state.withLock { $0.ended = true }
        }
        return input
    }

    /// Whether standard input has closed.
    var ended: Bool { state.withLock { $0.ended } }

    /// Waits for the `stop` line.
    /// - Throws: ``BenchError`` when the input closes first: the bench process went away.
    func stop() async throws -> WorkerStop {
        while true {
            let (stop, ended) = state.withLock { ($0.stop, $0.ended) }
            if let stop { return stop }
            if ended { throw BenchError("the bench process went away before the end of the run") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}
