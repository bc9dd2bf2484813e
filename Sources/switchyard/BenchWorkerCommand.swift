import ArgumentParser
import Foundation
import Logging
import SwitchyardBench

/// `switchyard bench-worker`: one role of `switchyard bench --group-process --ws-process` in a
/// process of its own, started by the bench and spoken to over its standard input and output
/// (``BenchWorker``). Not for direct use, so not listed in the help.
struct BenchWorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-worker",
        abstract: "A worker process of switchyard bench (started by it).",
        shouldDisplay: false)

    @Option(help: "groups or websocket-clients.")
    var role: String
    @Option(help: "The channels, as one pattern.")
    var pattern: String
    @Option(help: "Events to make room for, per group or client.")
    var expected = 0
    @Option(help: "With --role groups: the Redis URL.")
    var redis: String?
    @Option(help: "With --role groups: a group's name (repeated).")
    var group: [String] = []
    @Option(help: "With --role groups: consumers in each group.")
    var consumers = 1
    @Option(help: "With --role websocket-clients: the gateway's WebSocket URL.")
    var gateway: String?
    @Option(help: "With --role websocket-clients: how many clients.")
    var wsClients = 1
    @Option(name: .long, help: "The contracts folder (default: the shipped contracts).")
    var contracts: String?

    func validate() throws {
        switch role {
        case "groups":
            if redis == nil || group.isEmpty || consumers < 1 { throw ValidationError("--role groups needs --redis, --group and --consumers ≥ 1") }
        case "websocket-clients":
            if gateway == nil || wsClients < 1 { throw ValidationError("--role websocket-clients needs --gateway and --ws-clients ≥ 1") }
        default:
            throw ValidationError("--role is groups or websocket-clients")
        }
    }

    func run() async throws {
        var logger = Logger(label: "switchyard-bench-worker")
        logger.logLevel = .warning
        let role: BenchWorker.Role
        if let redis, self.role == "groups" {
            role = .groups(redisURL: redis, names: group, consumersPerGroup: consumers)
        } else {
            role = .webSocketClients(
                gatewayURL: gateway ?? "", count: wsClients,
                authorization: ProcessInfo.processInfo.environment[BenchWorker.authorizationVariable])
        }
        do {
            try await BenchWorker(role: role, pattern: pattern, expected: expected, contractsFolder: contracts).run(logger: logger)
        } catch {
            // The error went to the bench process as an error line; it prints it, naming this process.
            throw ExitCode(2)
        }
    }
}
