import Foundation
import JSONSchema
import KafkaClient
import Logging
import NIOCore
import NIOPosix
import RedisClient
import ServiceLifecycle
import Switchyard
import SwitchyardGateway
import SwitchyardKafka
import SwitchyardRedis
import SwitchyardServer
import Synchronization

/// Runs one benchmark: publishers on a fixed schedule, consumer groups and WebSocket clients
/// receiving, and the figures of all of them (see ``BenchReport``).
///
/// Every event carries its scheduled send time in its metadata as `due`; every latency is
/// measured from it, so a publisher that falls behind shows as latency instead of hiding it
/// (no coordinated omission). Groups and clients are set up before the first event is due, so
/// every acknowledged event must reach each of them: what does not is reported as missing.
public enum LoadGenerator {
    /// Runs the benchmark `configuration` describes.
    /// - Parameters:
    ///   - configuration: What to run.
    ///   - contracts: The contracts; the channels' payload is the first valid example of theirs.
    ///   - logger: The engine's, router's and gateway's logger.
    ///   - progress: Told what is happening, one line at a time.
    /// - Returns: The figures.
    /// - Throws: ``BenchError`` when the configuration cannot run; an engine's error when it fails to start.
    public static func run(
        _ configuration: BenchConfiguration, contracts: ContractRegistry, logger: Logger,
        progress: @escaping @Sendable (String) -> Void = { _ in }
    ) async throws -> BenchReport {
        if !configuration.problems.isEmpty { throw BenchError(configuration.problems.joined(separator: "; ")) }
        let plan = try Plan(configuration, contracts: contracts)
        let engine: any Engine
        switch configuration.target {
        case .embedded: engine = try EngineSettings().makeEngine(logger: logger)
        case .redis(let url): engine = try EngineSettings(redisURL: url).makeEngine(logger: logger)
        case .kafka(let url):
            engine = try KafkaEngine(configuration: .init(kafka: try KafkaConfiguration(url: url), contracts: contracts), logger: logger)
        }
        let redisClient = (engine as? RedisEngine)?.client
        var overrides: [RouterConfiguration.PolicyOverride] = []
        if let acknowledge = configuration.acknowledge {
            for channel in plan.channels {
                guard var policy = contracts.contract(for: channel)?.policy else { continue }
                policy.acknowledge = acknowledge
                overrides.append(.init(try ChannelPattern(channel.rawValue), policy))
            }
        }
        let router = Router(
            contracts: contracts, engine: engine,
            configuration: RouterConfiguration(source: "switchyard-bench", enforcesRateLimits: false, policyOverrides: overrides), logger: logger)
        let startsGateway = configuration.webSocketClients > 0 && configuration.gatewayURL == nil
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let service: any Service
        if startsGateway {
            // The clients are one anonymous caller: as many sessions as the run asks for.
            let webSocket = WebSocketConfiguration(maxSessionsPerPrincipal: max(1, configuration.webSocketClients))
            service = try buildApplication(
                router: router, configuration: GatewayConfiguration(host: "127.0.0.1", port: 0, authenticator: OpenAuthenticator(), webSocket: webSocket), logger: logger,
                onServerRunning: { channel in
                    portContinuation.yield(channel.localAddress?.port ?? 0)
                    portContinuation.finish()
                })
        } else {
            portContinuation.finish()
            service = router
        }
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await service.run() }
            defer { tasks.cancelAll() }
            var gatewayURL = configuration.gatewayURL
            if startsGateway {
                var iterator = ports.makeAsyncIterator()
                guard let port = await iterator.next(), port > 0 else { throw BenchError("the gateway in this process did not start") }
                gatewayURL = "ws://127.0.0.1:\(port)/v1/ws"
            }
            var serverPID = configuration.serverPID
            if serverPID == nil, let redisClient { serverPID = await localRedisServerPID(redisClient) }
            let report = try await plan.run(router: router, gatewayURL: gatewayURL, serverPID: serverPID, startsGateway: startsGateway, progress: progress)
            return report
        }
    }

    /// The `process_id` of `INFO server`, when that process is a `redis-server` this machine can read.
    static func localRedisServerPID(_ client: RedisClient) async -> Int32? {
        guard let reply = try? await client.execute(GenericCommand("INFO", "server")), let text = reply.string,
              let line = text.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("process_id:") }),
              let pid = Int32(line.dropFirst("process_id:".count).trimmingCharacters(in: .whitespaces)),
              ProcessUsage.command(pid: pid)?.contains("redis") == true else { return nil }
        return pid
    }
}

/// One run's channels, payload and tallies.
struct Plan: Sendable {
    let configuration: BenchConfiguration
    let channels: [ChannelName]
    let pattern: ChannelPattern
    /// What the publishers send, in turn: the example, or copies of it with their partition keys varied.
    let payloads: [JSONValue]
    let runID = String(UInt32.random(in: .min ... .max), radix: 36)

    init(_ configuration: BenchConfiguration, contracts: ContractRegistry) throws {
        self.configuration = configuration
        do {
            channels = try (1...configuration.publishers).map { try ChannelName("\(configuration.channelPrefix)-\($0)") }
            pattern = try ChannelPattern("\(configuration.channelPrefix)-*")
        } catch {
            throw BenchError("--channel-prefix '\(configuration.channelPrefix)' does not make valid channel names: \(error)")
        }
        guard let contract = contracts.contract(for: channels[0]) else {
            throw BenchError("no contract covers '\(channels[0])': give a --channel-prefix whose channels have a contract")
        }
        guard let example = contract.validExamples.first else {
            throw BenchError("the contract for '\(contract.channel)' has no valid example to publish: give another --channel-prefix")
        }
        guard configuration.keys > 1 else {
            payloads = [example]
            return
        }
        guard let field = contract.policy.kafka?.partitionKey, case .object(let object) = example else {
            throw BenchError("--keys needs channels whose contract names policy.kafka.partition_key; '\(contract.channel)' does not")
        }
        payloads = (0..<configuration.keys).map { n in
            var varied = object
            varied[field] = .string(Self.keyValue(n))
            return .object(varied)
        }
    }

    /// The `n`th partition key: A … Z, AA, AB, … (uppercase letters, as tickers are).
    static func keyValue(_ n: Int) -> String {
        var rest = n + 1
        var letters: [Character] = []
        while rest > 0 {
            rest -= 1
            letters.append(Character(UnicodeScalar(UInt8(65 + rest % 26))))
            rest /= 26
        }
        return String(letters.reversed())
    }

    /// What one consumer group handled.
    final class GroupTally: Sendable {
        struct State {
            var ledger = SequenceLedger()
            var latencies: [Double] = []
            /// The due time of each latency, when kept (a worker learns the window only at the end).
            var dueTimes: [Double] = []
        }
        let name: String
        let keepsDueTimes: Bool
        let state = Mutex(State())
        init(name: String, keepsDueTimes: Bool = false) {
            self.name = name
            self.keepsDueTimes = keepsDueTimes
        }

        func handle(_ envelope: Envelope, window: MeasureWindow) {
            let due = envelope.metadata["due"]?.doubleValue
            let now = monotonicNow()
            state.withLock { state in
                guard state.ledger.record(envelope.sequenceNumber, on: envelope.channel.rawValue), let due,
                      due >= window.from, due < window.until else { return }
                state.latencies.append(now - due)
                if keepsDueTimes { state.dueTimes.append(due) }
            }
        }
    }

    /// How the groups' consumers read, in this process or in a worker.
    static let consumerOptions = ConsumerOptions(batchSize: 1000, blockTimeout: .milliseconds(100), start: .newest)

    /// What one publisher sent and got back.
    struct PublisherResult: Sendable {
        var sent = 0
        var refused = 0
        var firstError: String?
        var acked = SequenceLedger()
        var latencies: [Double] = []
    }

    /// What the publishing phase gave.
    struct Outcome: Sendable {
        var results: [PublisherResult]
        var elapsed: Double
        /// When the workers stop waiting for deliveries, ``monotonicNow()`` seconds.
        var drainUntil: Double
    }

    /// The workers a run starts: the groups' and the clients' processes, as the configuration asks.
    func startWorkers(gatewayURL: String?, groupNames: [String], expected: Int) throws -> (groups: WorkerProcess?, clients: WorkerProcess?) {
        var groups: WorkerProcess?
        do {
            if configuration.groupProcess, !groupNames.isEmpty, case .redis(let url) = configuration.target {
                groups = try WorkerProcess.start(
                    BenchWorker(
                        role: .groups(redisURL: url, names: groupNames, consumersPerGroup: configuration.consumersPerGroup),
                        pattern: pattern.rawValue, expected: expected, contractsFolder: configuration.contractsFolder),
                    command: configuration.workerCommand)
            }
            var clients: WorkerProcess?
            if configuration.webSocketProcess, configuration.webSocketClients > 0, let gatewayURL {
                clients = try WorkerProcess.start(
                    BenchWorker(
                        role: .webSocketClients(gatewayURL: gatewayURL, count: configuration.webSocketClients, authorization: configuration.authorization),
                        pattern: pattern.rawValue, expected: expected, contractsFolder: configuration.contractsFolder),
                    command: configuration.workerCommand)
            }
            return (groups, clients)
        } catch {
            // the first one started is killed when the second fails to
            if let groups { Foundation.kill(groups.pid, SIGKILL) }
            throw error
        }
    }

    func run(
        router: Router, gatewayURL: String?, serverPID: Int32?, startsGateway: Bool, progress: @escaping @Sendable (String) -> Void
    ) async throws -> BenchReport {
        let expected = Int(configuration.seconds * Double(configuration.ratePerPublisher * configuration.publishers))
        let groupNames = (0..<configuration.groups).map { "bench-\(runID)-\($0 + 1)" }
        let started = try startWorkers(gatewayURL: gatewayURL, groupNames: groupNames, expected: expected)
        let workers = [started.groups, started.clients].compactMap { $0 }
        for worker in workers { progress("started the \(worker.name) (pid \(worker.pid))") }
        do {
            let report = try await run(
                router: router, gatewayURL: gatewayURL, serverPID: serverPID, startsGateway: startsGateway, groupNames: groupNames,
                expected: expected, groupWorker: started.groups, clientWorker: started.clients, progress: progress)
            for worker in workers { await worker.finish() }
            return report
        } catch {
            for worker in workers { await worker.kill() }
            throw error
        }
    }

    private func run(
        router: Router, gatewayURL: String?, serverPID: Int32?, startsGateway: Bool, groupNames: [String], expected: Int,
        groupWorker: WorkerProcess?, clientWorker: WorkerProcess?, progress: @escaping @Sendable (String) -> Void
    ) async throws -> BenchReport {
        let workers = [groupWorker, clientWorker].compactMap { $0 }
        let window = Mutex(MeasureWindow())
        let readWindow: @Sendable () -> MeasureWindow = { window.withLock { $0 } }
        let clients = try await WebSocketClients.connect(
            url: gatewayURL, count: clientWorker == nil ? configuration.webSocketClients : 0, patterns: [pattern.rawValue],
            authorization: configuration.authorization, expected: expected, window: readWindow, progress: progress)
        let tallies = groupWorker == nil ? groupNames.map { GroupTally(name: $0) } : []
        let consumers = tallies.flatMap { tally in (1...configuration.consumersPerGroup).map { (tally, "consumer-\($0)") } }
        let own = ProcessMonitor()
        let server = serverPID.map { ProcessMonitor(pid: $0) }
        let groupMonitor = groupWorker.map { ProcessMonitor(pid: $0.pid) }
        let clientMonitor = clientWorker.map { ProcessMonitor(pid: $0.pid) }
        let monitors = [own] + [server, groupMonitor, clientMonitor].compactMap { $0 }

        let outcome: Outcome = try await Self.withConsumers(consumers[...], router: router, pattern: pattern, options: Self.consumerOptions, window: readWindow) {
            () async throws -> Outcome in
            for worker in workers {
                let ready = try await worker.waitUntilReady(timeout: 120)
                if let subscribed = ready.subscribed {
                    progress("the \(worker.name) is ready: \(subscribed)/\(configuration.webSocketClients) WebSocket clients subscribed")
                } else {
                    progress("the \(worker.name) is ready: \(Self.groupsText(groupNames.count, consumers: configuration.consumersPerGroup))")
                }
            }
            return try await withThrowingTaskGroup(of: Void.self, returning: Outcome.self) { monitoring in
                for monitor in monitors { monitoring.addTask { await monitor.run() } }
                defer { monitoring.cancelAll() }
                let start = monotonicNow() + 0.2
                let end = start + configuration.seconds
                window.withLock { $0 = MeasureWindow(from: start + configuration.warmupSeconds, until: end) }
                progress("publishing: \(configuration.publishers) × \(configuration.ratePerPublisher) events/s for \(configuration.seconds) s")
                let results = try await withThrowingTaskGroup(of: PublisherResult?.self) { publishers in
                    for (index, channel) in channels.enumerated() {
                        let offset = Double(index) / Double(configuration.publishers * configuration.ratePerPublisher)
                        publishers.addTask { try await runPublisher(router, channel, start: start + offset, window: readWindow) }
                    }
                    if !workers.isEmpty {
                        // A worker that dies while the publishers run ends the run now, not after the drain.
                        publishers.addTask {
                            while !Task.isCancelled {
                                for worker in workers { try await worker.checkAlive() }
                                try? await Task.sleep(for: .milliseconds(50))
                            }
                            return nil
                        }
                    }
                    var results: [PublisherResult] = []
                    while results.count < channels.count, let next = try await publishers.next() {
                        if let next { results.append(next) }
                    }
                    publishers.cancelAll()
                    return results
                }
                let elapsed = max(monotonicNow(), end) - start
                for monitor in monitors { monitor.markPublishingEnd() }
                let acked = results.reduce(0) { $0 + $1.acked.count }
                progress("published: \(acked) acknowledged; waiting up to \(configuration.drainSeconds) s for every delivery")
                let drainUntil = monotonicNow() + configuration.drainSeconds
                let measured = readWindow()
                for worker in workers { try await worker.stop(WorkerStop(from: measured.from, until: measured.until, acked: acked, drainUntil: drainUntil)) }
                while monotonicNow() < drainUntil {
                    let groupsDone = tallies.allSatisfy { tally in tally.state.withLock { $0.ledger.count } >= acked }
                    if groupsDone && clients.delivered >= acked * clients.subscribed { break }
                    for worker in workers { try await worker.checkAlive() }
                    try await Task.sleep(for: .milliseconds(50))
                }
                own.sample()
                server?.sample()
                return Outcome(results: results, elapsed: elapsed, drainUntil: drainUntil)
            }
        }
        let webSocket = await clients.finish()
        // A worker closing its clients may take as long as this process does (up to 30 s).
        var groupResult: WorkerMessage?
        if let groupWorker {
            groupResult = try await groupWorker.result(deadline: outcome.drainUntil + 45)
            groupMonitor?.sample()
        }
        var clientResult: WorkerMessage?
        if let clientWorker {
            clientResult = try await clientWorker.result(deadline: outcome.drainUntil + 45)
            clientMonitor?.sample()
        }

        var acked = SequenceLedger()
        for result in outcome.results { acked.record(result.acked) }
        let elapsed = outcome.elapsed
        let publish = PublishReport(
            sent: outcome.results.reduce(0) { $0 + $1.sent }, acked: acked.count, refused: outcome.results.reduce(0) { $0 + $1.refused },
            firstError: outcome.results.lazy.compactMap { $0.firstError }.first, throughput: Double(acked.count) / elapsed,
            latency: LatencySummary(seconds: outcome.results.flatMap { $0.latencies }))
        func groupReport(_ name: String, _ ledger: SequenceLedger, _ latency: LatencySummary) -> GroupReport {
            GroupReport(
                group: name, consumers: configuration.consumersPerGroup, delivered: ledger.count, duplicates: ledger.duplicates,
                missing: ledger.missing(of: acked), unexpected: ledger.unexpected(in: acked), throughput: Double(ledger.count) / elapsed,
                latency: latency)
        }
        var groups = tallies.map { tally in
            tally.state.withLock { state in groupReport(tally.name, state.ledger, LatencySummary(seconds: state.latencies)) }
        }
        if let groupResult {
            var reported: [String: WorkerGroupResult] = [:]
            for group in groupResult.groups ?? [] where reported[group.name] == nil { reported[group.name] = group }
            groups = groupNames.map { name in
                // A group the worker did not report received nothing: every acknowledged event is missing from it.
                let result = reported[name]
                return groupReport(
                    name, SequenceLedger(ranges: result?.ranges ?? [:], duplicates: result?.duplicates ?? 0),
                    result?.latency ?? LatencySummary(seconds: []))
            }
        }
        var webSocketReport: WebSocketReport?
        if let clientResult {
            webSocketReport = Self.webSocketReport(
                url: gatewayURL ?? "", clients: configuration.webSocketClients, results: clientResult.clients ?? [], acked: acked.count,
                elapsed: elapsed, latency: clientResult.latency ?? LatencySummary(seconds: []))
        } else if let webSocket {
            webSocketReport = Self.webSocketReport(
                url: gatewayURL ?? "", clients: configuration.webSocketClients, results: webSocket.map(WorkerClientResult.init),
                acked: acked.count, elapsed: elapsed, latency: LatencySummary(seconds: webSocket.flatMap(\.latencies)))
        }
        var parts = ["router"]
        if !tallies.isEmpty { parts.append("consumers") }
        if startsGateway { parts.append("gateway") }
        if webSocket != nil { parts.append("WebSocket clients") }
        return BenchReport(
            engine: configuration.engineName, configuration: configuration,
            channels: pattern.rawValue, publish: publish, groups: groups, webSocket: webSocketReport,
            process: own.report(role: "bench process (\(parts.joined(separator: ", ")))", events: acked.count),
            groupProcess: groupMonitor?.report(
                role: "group process (\(Self.groupsText(groupNames.count, consumers: configuration.consumersPerGroup)))", events: acked.count),
            webSocketProcess: clientMonitor?.report(role: "WebSocket client process (\(configuration.webSocketClients) client\(configuration.webSocketClients == 1 ? "" : "s"))", events: acked.count),
            server: server?.report(role: configuration.serverPID == nil ? "redis-server" : configuration.serverRole, events: acked.count),
            loadAverage: Self.loadAverage())
    }

    /// `1 group of 2 consumers`, `2 groups of 1 consumer`.
    static func groupsText(_ groups: Int, consumers: Int) -> String {
        "\(groups) group\(groups == 1 ? "" : "s") of \(consumers) consumer\(consumers == 1 ? "" : "s")"
    }

    /// The WebSocket clients' figures, from their counts in this process or a worker.
    static func webSocketReport(
        url: String, clients: Int, results: [WorkerClientResult], acked: Int, elapsed: Double, latency: LatencySummary
    ) -> WebSocketReport {
        let subscribed = results.filter(\.subscribed)
        var closeCodes: [String: Int] = [:]
        for result in results { if let code = result.closeCode { closeCodes[String(code), default: 0] += 1 } }
        let delivered = results.reduce(0) { $0 + $1.received }
        return WebSocketReport(
            url: url, clients: clients, subscribed: subscribed.count, delivered: delivered,
            duplicates: results.reduce(0) { $0 + $1.duplicates }, gaps: results.reduce(0) { $0 + $1.gaps },
            missing: subscribed.reduce(0) { $0 + max(0, acked - $1.received) }, throughput: Double(delivered) / elapsed,
            latency: latency, closeCodes: closeCodes)
    }

    /// Runs `body` with one consumer per entry of `consumers`, each in its tally's group.
    static func withConsumers<Result: Sendable>(
        _ consumers: ArraySlice<(GroupTally, String)>, router: Router, pattern: ChannelPattern, options: ConsumerOptions,
        window: @escaping @Sendable () -> MeasureWindow, body: () async throws -> Result
    ) async throws -> Result {
        guard let (tally, name) = consumers.first else { return try await body() }
        return try await router.withConsumer(
            group: tally.name, patterns: [pattern], consumer: name, options: options,
            handler: { envelope in tally.handle(envelope, window: window()) }
        ) {
            try await withConsumers(consumers.dropFirst(), router: router, pattern: pattern, options: options, window: window, body: body)
        }
    }

    /// One publisher: every `1/rate` seconds from `start` an event is due; the events already due
    /// go out together, up to the batch size.
    func runPublisher(_ router: Router, _ channel: ChannelName, start: Double, window: @Sendable () -> MeasureWindow) async throws -> PublisherResult {
        var result = PublisherResult()
        let interval = 1 / Double(configuration.ratePerPublisher)
        let total = Int((configuration.seconds * Double(configuration.ratePerPublisher)).rounded())
        result.latencies.reserveCapacity(total)
        let measured = window()
        var tick = 0
        while tick < total {
            let wait = start + Double(tick) * interval - monotonicNow()
            if wait > 0 { try await Task.sleep(for: .nanoseconds(Int64(wait * 1e9))) }
            let now = monotonicNow()
            var dues: [Double] = []
            repeat {
                dues.append(start + Double(tick) * interval)
                tick += 1
            } while tick < total && dues.count < configuration.batch && start + Double(tick) * interval <= now
            result.sent += dues.count
            do {
                let receipts: [PublishReceipt]
                let first = tick - dues.count
                if dues.count == 1 {
                    receipts = [try await router.publish(to: channel, payload: payloads[first % payloads.count], metadata: ["due": .double(dues[0])])]
                } else {
                    receipts = try await router.publish(dues.enumerated().map { offset, due in
                        PublishRequest(channel: channel, payload: payloads[(first + offset) % payloads.count], metadata: ["due": .double(due)])
                    })
                }
                let acked = monotonicNow()
                for (receipt, due) in zip(receipts, dues) {
                    if let sequenceNumber = receipt.sequenceNumber { result.acked.record(sequenceNumber, on: channel.rawValue) }
                    if due >= measured.from && due < measured.until { result.latencies.append(acked - due) }
                }
            } catch {
                result.refused += dues.count
                if result.firstError == nil { result.firstError = error.description }
            }
        }
        return result
    }

    static func loadAverage() -> [Double] {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return [] }
        return text.split(separator: " ").prefix(3).compactMap { Double($0) }
    }
}
