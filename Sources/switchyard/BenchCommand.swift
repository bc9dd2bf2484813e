import ArgumentParser
import Foundation
import Logging
import Switchyard
import SwitchyardBench

/// `switchyard bench`: the load generator (docs/benchmarks.md).
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Load-test the router: publishers at a rate, consumer groups, WebSocket clients; report throughput, latency, CPU, RSS and loss.",
        discussion: """
            Publisher i publishes to PREFIX-i (the contract's first valid example as payload) on a \
            fixed schedule; each event carries its scheduled send time, and every latency (ack, \
            group handler, WebSocket client) is measured from it, at p50, p99, p99.9 and max. \
            Groups and clients are set up before the first event, so every acknowledged event must \
            reach each of them: sent, acked, delivered, missing and duplicate sequence numbers are \
            counted. Without --redis or --kafka everything runs in this process on the embedded \
            engine; with --redis the publishers and consumers run here on a Redis engine, and the \
            server's CPU and RSS are read from /proc of the redis-server (found by INFO, or \
            --server-pid); with --kafka they run here on a Kafka engine (every publish waits for \
            acks=all), and the broker's CPU and RSS are read from /proc when --server-pid names it. \
            WebSocket clients use a gateway started in this process unless --gateway names one \
            (on the same Redis and machine). Rate limits are not enforced for the publishers. \
            --sweep repeats the run at rising rates (each step a whole run) until a group's p99 \
            passes --sweep-limit, an event is lost or the publishers fall behind, and prints the \
            highest offered rate that held. --group-process (with --redis) and --ws-process run the \
            groups and the clients in processes of their own (this program again), which must \
            get every acknowledged event just the same; a worker that fails or dies ends the run \
            (exit 2) and none is left running. Each process's CPU (this one, the workers, the \
            server) is also reported while publishing, per acknowledged event, and their sum. \
            Exit codes: 0 nothing lost (with --sweep: some step held), \
            1 an acknowledged event was missing somewhere (with --sweep: no step held), 2 the run \
            could not start, 64 usage.
            """)

    @Option(help: ArgumentHelp("A Redis URL: run on the Redis engine (default: the embedded engine).", valueName: "URL"))
    var redis: String?
    @Option(help: ArgumentHelp("Kafka brokers, kafka://HOST:PORT: run on the Kafka engine.", valueName: "URL"))
    var kafka: String?
    @Option(help: ArgumentHelp(
        "With --kafka: cycle the payload's partition-key field (the contract's policy.kafka.partition_key) through N values.",
        valueName: "N"))
    var keys = 1
    @Option(help: ArgumentHelp("A running gateway's WebSocket URL for the clients, ws://HOST:PORT/v1/ws (needs --redis).", valueName: "URL"))
    var gateway: String?
    @Option(help: ArgumentHelp("A bearer token or API key for the gateway's WebSocket clients.", valueName: "TOKEN"))
    var token: String?
    @Option(help: "Publishers, each on a channel of its own.")
    var publishers = 4
    @Option(help: ArgumentHelp("Events per second per publisher.", valueName: "N"))
    var rate = 1000
    @Option(help: ArgumentHelp("The most events per publish call (a publisher sends what is due together).", valueName: "N"))
    var batch = 100
    @Option(help: ArgumentHelp("Seconds of publishing, warm-up included.", valueName: "SECONDS"))
    var duration = 10.0
    @Option(help: ArgumentHelp("The first seconds, not counted in the latencies.", valueName: "SECONDS"))
    var warmup = 1.0
    @Option(help: "Consumer groups, each receiving every event (0 for none).")
    var groups = 1
    @Option(help: "Consumers in each group.")
    var consumers = 2
    @Option(help: ArgumentHelp("WebSocket clients, each subscribed to every publisher's channel.", valueName: "N"))
    var wsClients = 0
    @Flag(help: "With --redis: run the consumer groups in a process of their own (this program, started by the bench), as a user's consumers would run.")
    var groupProcess = false
    @Flag(help: "Run the WebSocket clients in a process of their own, so that the router's CPU no longer includes their decoding.")
    var wsProcess = false
    @Option(help: ArgumentHelp("The channels' prefix: publishers use PREFIX-1, PREFIX-2, …", valueName: "PREFIX"))
    var channelPrefix = "price.updated.bench"
    @Option(help: ArgumentHelp("The server process to report CPU and RSS for (default: the local redis-server, from INFO; with --kafka, the broker).", valueName: "PID"))
    var serverPID: Int32?
    @Option(help: ArgumentHelp("Seconds to wait after the last publish for every delivery.", valueName: "SECONDS"))
    var drain = 15.0
    @Option(name: .long, help: ArgumentHelp("The contracts folder (default: the shipped contracts).", valueName: "DIR"))
    var contracts: String?
    @Option(help: ArgumentHelp(
        "When the channels' publishes are acknowledged: primary or replicated (waits for a replica; Redis under Sentinel). Default: the contract's.",
        valueName: "MODE"))
    var acknowledge: String?
    @Flag(help: "Raise the rate step by step until a group's p99 passes --sweep-limit or an event is lost; print the last rate that held.")
    var sweep = false
    @Option(help: ArgumentHelp("With --sweep: events per second added per publisher at each step (default: --rate).", valueName: "N"))
    var sweepStep: Int?
    @Option(help: ArgumentHelp("With --sweep: the highest rate per publisher to try.", valueName: "N"))
    var sweepCeiling = 100_000
    @Option(help: ArgumentHelp("With --sweep: the group p99 a step must stay under, in milliseconds.", valueName: "MS"))
    var sweepLimit = 100
    @Flag(help: "Print the report as JSON.")
    var json = false

    /// The run these options describe.
    func benchConfiguration() -> BenchConfiguration {
        BenchConfiguration(
            target: redis.map { .redis(url: $0) } ?? kafka.map { .kafka(url: $0) } ?? .embedded, gatewayURL: gateway, authorization: token.map { "Bearer \($0)" },
            publishers: publishers, ratePerPublisher: rate, batch: batch, seconds: duration, warmupSeconds: warmup, groups: groups,
            consumersPerGroup: consumers, webSocketClients: wsClients, channelPrefix: channelPrefix, serverPID: serverPID,
            drainSeconds: drain, acknowledge: ChannelPolicy.Acknowledge.named(acknowledge), keys: keys,
            groupProcess: groupProcess, webSocketProcess: wsProcess, contractsFolder: contracts)
    }

    static func json(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return String(decoding: (try? encoder.encode(value)) ?? Data("{}".utf8), as: UTF8.self)
    }

    func validate() throws {
        if sweep, (sweepStep ?? rate) < 1 || sweepCeiling < rate || sweepLimit < 1 {
            throw ValidationError("--sweep needs --sweep-step ≥ 1, --sweep-ceiling ≥ --rate and --sweep-limit ≥ 1")
        }
        if redis != nil && kafka != nil { throw ValidationError("--redis and --kafka name two engines: give one") }
        let problems = benchConfiguration().problems
        if !problems.isEmpty { throw ValidationError(problems.joined(separator: "\n")) }
        if acknowledge != nil, ChannelPolicy.Acknowledge.named(acknowledge) == nil {
            throw ValidationError("--acknowledge is primary or replicated")
        }
        if let serverPID, ProcessUsage(pid: serverPID) == nil { throw ValidationError("--server-pid \(serverPID): no such process can be read in /proc") }
    }

    func run() async throws {
        var logger = Logger(label: "switchyard-bench")
        logger.logLevel = .warning
        let registry: ContractRegistry
        do { registry = try contracts.map { try ContractRegistry.load(from: $0) } ?? ContractRegistry.shipped() } catch {
            FileHandle.standardError.write(Data("error: the contracts cannot be loaded:\n\(error)\n".utf8))
            throw ExitCode(2)
        }
        let progress: @Sendable (String) -> Void = { line in FileHandle.standardError.write(Data("bench: \(line)\n".utf8)) }
        if sweep {
            let result: SweepReport
            do {
                result = try await LoadGenerator.sweep(
                    benchConfiguration(), step: sweepStep ?? rate, ceiling: sweepCeiling, limit: .milliseconds(sweepLimit),
                    contracts: registry, logger: logger, progress: progress)
            } catch {
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                throw ExitCode(2)
            }
            print(json ? Self.json(result) : result.text)
            if result.held == nil { throw ExitCode(1) }
            return
        }
        let report: BenchReport
        do {
            report = try await LoadGenerator.run(benchConfiguration(), contracts: registry, logger: logger, progress: progress)
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(2)
        }
        print(json ? report.json : report.text)
        if report.lost > 0 { throw ExitCode(1) }
    }
}
