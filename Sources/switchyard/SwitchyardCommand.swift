import ArgumentParser

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
            BenchCommand.self,
        ]
    )
}

/// Options every subcommand shares.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The contracts folder (default: the shipped contracts).", valueName: "DIR"))
    var contracts: String?
}
