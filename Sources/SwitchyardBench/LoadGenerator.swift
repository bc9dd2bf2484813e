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
        }
        let name: String
        let state = Mutex(State())
        init(name: String) { self.name = name }

        func handle(_ envelope: Envelope, window: MeasureWindow) {
            let due = envelope.metadata["due"]?.doubleValue
            let now = monotonicNow()
            state.withLock { state in
                guard state.ledger.record(envelope.sequenceNumber, on: envelope.channel.rawValue), let due,
                      due >= window.from, due < window.until else { return }
                state.latencies.append(now - due)
            }
        }
    }

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
    }

    func run(
        router: Router, gatewayURL: String?, serverPID: Int32?, startsGateway: Bool, progress: @escaping @Sendable (String) -> Void
    ) async throws -> BenchReport {
        let window = Mutex(MeasureWindow())
        let readWindow: @Sendable () -> MeasureWindow = { window.withLock { $0 } }
        let clients = try await WebSocketClients.connect(
            url: gatewayURL, count: configuration.webSocketClients, patterns: [pattern.rawValue],
            authorization: configuration.authorization, expected: Int(configuration.seconds * Double(configuration.ratePerPublisher * configuration.publishers)),
            window: readWindow, progress: progress)
        let tallies = (0..<configuration.groups).map { GroupTally(name: "bench-\(runID)-\($0 + 1)") }
        let options = ConsumerOptions(batchSize: 1000, blockTimeout: .milliseconds(100), start: .newest)
        let consumers = tallies.flatMap { tally in (1...configuration.consumersPerGroup).map { (tally, "consumer-\($0)") } }
        let own = ProcessMonitor()
        let server = serverPID.map { ProcessMonitor(pid: $0) }

        let outcome: Outcome = try await Self.withConsumers(consumers[...], router: router, pattern: pattern, options: options, window: readWindow) {
            () async throws -> Outcome in
            try await withThrowingTaskGroup(of: Void.self, returning: Outcome.self) { monitors in
                monitors.addTask { await own.run() }
                if let server { monitors.addTask { await server.run() } }
                defer { monitors.cancelAll() }
                let start = monotonicNow() + 0.2
                let end = start + configuration.seconds
                window.withLock { $0 = MeasureWindow(from: start + configuration.warmupSeconds, until: end) }
                progress("publishing: \(configuration.publishers) × \(configuration.ratePerPublisher) events/s for \(configuration.seconds) s")
                let results = try await withThrowingTaskGroup(of: PublisherResult.self) { publishers in
                    for (index, channel) in channels.enumerated() {
                        let offset = Double(index) / Double(configuration.publishers * configuration.ratePerPublisher)
                        publishers.addTask { try await runPublisher(router, channel, start: start + offset, window: readWindow) }
                    }
                    return try await publishers.reduce(into: []) { $0.append($1) }
                }
                let elapsed = max(monotonicNow(), end) - start
                own.markPublishingEnd()
                server?.markPublishingEnd()
                let acked = results.reduce(0) { $0 + $1.acked.count }
                progress("published: \(acked) acknowledged; waiting up to \(configuration.drainSeconds) s for every delivery")
                let drainUntil = monotonicNow() + configuration.drainSeconds
                while monotonicNow() < drainUntil {
                    let groupsDone = tallies.allSatisfy { tally in tally.state.withLock { $0.ledger.count } >= acked }
                    if groupsDone && clients.delivered >= acked * clients.subscribed { break }
                    try await Task.sleep(for: .milliseconds(50))
                }
                own.sample()
                server?.sample()
                return Outcome(results: results, elapsed: elapsed)
            }
        }
        let webSocket = await clients.finish()

        var acked = SequenceLedger()
        for result in outcome.results {
            for (channel, sequences) in result.acked.sequences {
                for sequence in sequences { acked.record(sequence, on: channel) }
            }
        }
        let elapsed = outcome.elapsed
        let publish = PublishReport(
            sent: outcome.results.reduce(0) { $0 + $1.sent }, acked: acked.count, refused: outcome.results.reduce(0) { $0 + $1.refused },
            firstError: outcome.results.lazy.compactMap { $0.firstError }.first, throughput: Double(acked.count) / elapsed,
            latency: LatencySummary(seconds: outcome.results.flatMap { $0.latencies }))
        let groups = tallies.map { tally in
            tally.state.withLock { state in
                GroupReport(
                    group: tally.name, consumers: configuration.consumersPerGroup, delivered: state.ledger.count,
                    duplicates: state.ledger.duplicates, missing: state.ledger.missing(of: acked), unexpected: state.ledger.unexpected(in: acked),
                    throughput: Double(state.ledger.count) / elapsed, latency: LatencySummary(seconds: state.latencies))
            }
        }
        let webSocketReport = webSocket.map { results in
            let subscribed = results.filter(\.subscribed)
            var closeCodes: [String: Int] = [:]
            for result in results { if let code = result.closeCode { closeCodes[String(code), default: 0] += 1 } }
            let delivered = results.reduce(0) { $0 + $1.received }
            return WebSocketReport(
                url: gatewayURL ?? "", clients: configuration.webSocketClients, subscribed: subscribed.count, delivered: delivered,
                duplicates: results.reduce(0) { $0 + $1.duplicates }, gaps: results.reduce(0) { $0 + $1.gaps },
                missing: subscribed.reduce(0) { $0 + max(0, acked.count - $1.received) }, throughput: Double(delivered) / elapsed,
                latency: LatencySummary(seconds: results.flatMap(\.latencies)), closeCodes: closeCodes)
        }
        let role = startsGateway ? "bench process (router, consumers, gateway)" : "bench process (router, consumers)"
        return BenchReport(
            engine: configuration.engineName, configuration: configuration,
            channels: pattern.rawValue, publish: publish, groups: groups, webSocket: webSocketReport,
            process: own.report(role: role, events: acked.count),
            server: server?.report(role: configuration.serverPID == nil ? "redis-server" : configuration.serverRole, events: acked.count),
            loadAverage: Self.loadAverage())
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
