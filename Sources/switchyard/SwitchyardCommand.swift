import ArgumentParser
import Foundation
import SwitchyardServer

/// The `switchyard` command line.
@main
struct SwitchyardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchyard",
        abstract: "Switchyard: a real-time event router for trading systems.",
        subcommands: [
            ServeCommand.self, ContractsCommand.self,
            PublishCommand.self, ReplayCommand.self, StateCommand.self, LagCommand.self, DLQCommand.self, TailCommand.self,
            MigrateCommand.self, RelayCommand.self, BridgeCommand.self, ReconcileCommand.self, ACLCommand.self, AuditCommand.self,
            BenchCommand.self, BenchWorkerCommand.self, HandoverCommand.self,
        ]
    )
}

/// Options every subcommand shares: the contracts folder and the config file.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The contracts folder (default: SWITCHYARD_CONTRACTS or the config file's, else the shipped contracts).", valueName: "DIR"))
    var contracts: String?
    @Option(help: ArgumentHelp("A JSON config file (default: SWITCHYARD_CONFIG); see docs/configuration.md.", valueName: "FILE"))
    var config: String?

    /// Options with these values (for commands that take the two options under other help texts).
    init(contracts: String? = nil, config: String?) {
        self.contracts = contracts
        self.config = config
    }

    init() {}

    /// The command's settings: `flags` (with `--contracts`) over the environment over the config
    /// file over the defaults, resolved the way `serve` resolves its own.
    /// - Throws: `ExitCode(1)` after printing the key or variable at fault.
    func settings(_ flags: ServerSettings = ServerSettings()) throws -> ServerSettings {
        var flags = flags
        flags.contracts = contracts ?? flags.contracts
        do {
            return try ResolvedSettings.resolve(configFile: config, environment: ProcessInfo.processInfo.environment, flags: flags).settings
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

extension ServerSettings {
    /// The Redis URL, or a usage error naming the flag and the variable.
    func requireRedis() throws -> String {
        guard let redis, !redis.isEmpty else { throw ValidationError("give --redis URL or set REDIS_URL (or redis in the config file)") }
        return redis
    }

    /// The PostgreSQL URL, or a usage error naming the flag and the variable.
    func requirePostgres() throws -> String {
        guard let postgres, !postgres.isEmpty else { throw ValidationError("give --postgres URL or set POSTGRES_URL (or postgres in the config file)") }
        return postgres
    }
}
