import ArgumentParser
import Foundation
import Hummingbird
import Logging
import SwitchyardGateway

/// `switchyard serve`: the HTTP API v1 on the embedded engine, or on Redis with `--redis`.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the HTTP API (embedded engine unless --redis or REDIS_URL is given).",
        discussion: """
            Flags win over the environment: REDIS_URL, SWITCHYARD_HOST, SWITCHYARD_PORT, \
            SWITCHYARD_CONTRACTS, POSTGRES_URL. SIGTERM or SIGINT stops accepting requests, finishes the ones \
            in flight, then stops the engine.
            """)

    @Option(help: "The address to listen on (default: SWITCHYARD_HOST, else 127.0.0.1).")
    var host: String?
    @Option(help: "The port to listen on, 0 for any free port (default: SWITCHYARD_PORT, else 8080).")
    var port: Int?
    @Option(help: ArgumentHelp("A Redis URL (default: REDIS_URL, else the embedded engine).", valueName: "URL"))
    var redis: String?
    @Option(help: ArgumentHelp("The contracts folder (default: SWITCHYARD_CONTRACTS, else the shipped contracts).", valueName: "DIR"))
    var contracts: String?
    @Flag(help: "Accept publishes to channels no contract covers, with the default policy.")
    var allowUnknownChannels = false
    @Option(help: ArgumentHelp("A PostgreSQL URL for strict mode: migrate, run the relay, publish through the outbox (default: POSTGRES_URL).", valueName: "URL"))
    var postgres: String?

    func run() async throws {
        let configuration = try gatewayConfiguration(environment: ProcessInfo.processInfo.environment)
        var logger = Logger(label: "switchyard")
        logger.logLevel = .info
        let app = try buildApplication(configuration: configuration, logger: logger)
        logger.info("switchyard serve", metadata: [
            "engine": "\(configuration.redisURL == nil ? "embedded" : "redis")",
            "address": "\(configuration.host):\(configuration.port)",
        ])
        try await app.runService()
    }

    /// The configuration from the flags, falling back to the environment, then the defaults.
    func gatewayConfiguration(environment: [String: String]) throws -> GatewayConfiguration {
        func env(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        var configuration = GatewayConfiguration()
        configuration.host = host ?? env("SWITCHYARD_HOST") ?? configuration.host
        if let port {
            configuration.port = port
        } else if let text = env("SWITCHYARD_PORT") {
            guard let value = Int(text), (0...65535).contains(value) else {
                throw ValidationError("SWITCHYARD_PORT must be a port number, not '\(text)'")
            }
            configuration.port = value
        }
        configuration.redisURL = redis ?? env("REDIS_URL")
        configuration.contractsDirectory = contracts ?? env("SWITCHYARD_CONTRACTS")
        configuration.allowsUnknownChannels = allowUnknownChannels
        configuration.postgresURL = postgres ?? env("POSTGRES_URL")
        return configuration
    }

    func validate() throws {
        if let port, !(0...65535).contains(port) { throw ValidationError("--port must be between 0 and 65535") }
    }
}
