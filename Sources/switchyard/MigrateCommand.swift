import ArgumentParser
import Foundation
import Logging
import PostgresNIO
import SwitchyardPostgres
import SwitchyardServer

/// `switchyard migrate`: applies the `switchyard` schema's migrations to a PostgreSQL database.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply the PostgreSQL migrations (outbox, archive, quarantine, inbox, relay state).",
        discussion: "Idempotent, and safe to run from several processes at once (advisory lock).")

    @Option(help: ArgumentHelp("A PostgreSQL URL (default: POSTGRES_URL, else the config file's).", valueName: "URL"))
    var postgres: String?
    @Option(help: ArgumentHelp("A JSON config file (default: SWITCHYARD_CONFIG); see docs/configuration.md.", valueName: "FILE"))
    var config: String?

    func run() async throws {
        let settings = try GlobalOptions(config: config).settings(ServerSettings(postgres: postgres))
        let url = try PostgresURL(try settings.requirePostgres())
        var logger = Logger(label: "switchyard")
        logger.logLevel = .info
        let applied = try await withPostgresConnection(url, logger: logger) { connection in
            try await Migrations.apply(connection: connection, logger: logger)
        }
        print(applied.isEmpty
            ? "schema switchyard is up to date (version \(Migrations.latestVersion))"
            : "applied migrations \(applied.map(String.init).joined(separator: ", ")); schema switchyard is at version \(Migrations.latestVersion)")
    }
}

/// Runs `body` on one connection to `url`, closing it afterwards.
func withPostgresConnection<T: Sendable>(_ url: PostgresURL, logger: Logger, _ body: (PostgresConnection) async throws -> T) async throws -> T {
    let connection = try await PostgresConnection.connect(
        on: PostgresClient.defaultEventLoopGroup.any(), configuration: try url.connectionConfiguration(), id: 1, logger: logger
    ).get()
    do {
        let result = try await body(connection)
        try await connection.close()
        return result
    } catch {
        try? await connection.close()
        throw error
    }
}
