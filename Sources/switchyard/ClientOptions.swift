import ArgumentParser
import Foundation
import JSONSchema
import Logging
import RedisClient
import Switchyard
import SwitchyardGateway
import SwitchyardRedis
import SwitchyardServer

/// Where the client subcommands (`publish`, `replay`, `lag`, `dlq`, `state`) send their requests: a running
/// server over the HTTP API, or Redis directly.
struct ClientOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The server's URL (default: SWITCHYARD_SERVER, else http://127.0.0.1:8080).", valueName: "URL"))
    var server: String?
    @Option(help: ArgumentHelp("Go straight to Redis at this URL instead of a server.", valueName: "URL"))
    var redis: String?
    @Option(help: ArgumentHelp("A bearer token or API key for the server (default: SWITCHYARD_TOKEN).", valueName: "TOKEN"))
    var token: String?
    @Option(help: ArgumentHelp("Seconds to wait for the server or Redis before giving up (exit 3).", valueName: "SECONDS"))
    var timeout: Double = 30
    @Option(name: .long, help: ArgumentHelp("With --redis: the contracts folder (default: SWITCHYARD_CONTRACTS or the config file's, else the shipped contracts).", valueName: "DIR"))
    var contracts: String?
    @Flag(help: "With --redis: accept publishes to channels no contract covers.")
    var allowUnknownChannels = false
    @Option(help: ArgumentHelp("With --redis: a JSON config file for the contracts, keys and Redis CA (default: SWITCHYARD_CONFIG); see docs/configuration.md.", valueName: "FILE"))
    var config: String?
    @OptionGroup var keys: KeyOptions

    func validate() throws {
        if server != nil && redis != nil { throw ValidationError("give --server or --redis, not both") }
        if timeout <= 0 { throw ValidationError("--timeout must be positive") }
    }

    /// The backend these options name.
    func backend() throws -> any ClientBackend {
        let environment = EnvironmentVariables()
        if let redis {
            var flags = keys.layer
            (flags.contracts, flags.allowUnknownChannels) = (contracts, allowUnknownChannels ? true : nil)
            let resolved = try GlobalOptions(config: config).settings(flags)
            let settings = EngineSettings(
                redisURL: redis, redisCAFile: resolved.redisCA, failFast: true, connectTimeout: .milliseconds(Int64(timeout * 1000)))
            let logger = Logger(label: "switchyard-cli")
            let (signingKeys, encryptionKeys) = try KeyOptions.rings(resolved)
            let router: Switchyard.Router
            do {
                router = try makeRouter(
                    engine: settings, contractsDirectory: resolved.contracts,
                    configuration: RouterConfiguration(
                        source: "switchyard-cli", allowsUnknownChannels: resolved.allowUnknownChannels ?? false, signingKeys: signingKeys,
                        encryptionKeys: encryptionKeys),
                    logger: logger)
            } catch let error as ContractFolderError {
                throw ValidationError("the contracts cannot be loaded:\n\(error)")
            } catch {
                throw ValidationError("--redis: \(error)")
            }
            return RouterBackend(router: router, timeout: timeout)
        }
        let text = server ?? environment["SWITCHYARD_SERVER"] ?? "http://127.0.0.1:8080"
        guard let url = URL(string: text), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
            throw ValidationError("--server must be an http:// or https:// URL, not '\(Redaction.url(text))'")
        }
        return HTTPBackend(base: url, token: token ?? environment["SWITCHYARD_TOKEN"], timeout: timeout)
    }
}

/// Why a client command failed; ``run(_:)`` turns it into output and an exit code.
enum ClientFailure: Error {
    /// The server or router refused, with the structured error (exit 1).
    case refused(JSONValue)
    /// The server or Redis could not be reached (exit 3).
    case unreachable(String)
}

/// The operations of the client subcommands, over HTTP or a router.
protocol ClientBackend: Sendable {
    func publish(channel: String, payload: [UInt8], eventID: String?) async throws(ClientFailure) -> JSONValue
    func replay(channel: String, since: String?, until: String?, limit: Int?) async throws(ClientFailure) -> JSONValue
    func groups(channel: String?) async throws(ClientFailure) -> JSONValue
    func deadLetters(channel: String, limit: Int?) async throws(ClientFailure) -> JSONValue
    func actOnDeadLetters(channel: String, action: String, ids: [String]) async throws(ClientFailure) -> JSONValue
    func setState(key: String, value: [UInt8]) async throws(ClientFailure) -> JSONValue
    func state(key: String) async throws(ClientFailure) -> JSONValue
}

/// Runs a client operation: prints a refusal's structured error on standard output and its
/// message on standard error and exits 1; exits 3 when the server or Redis cannot be reached.
func runClient(_ body: () async throws(ClientFailure) -> Void) async throws {
    do {
        try await body()
    } catch {
        switch error {
        case .refused(let body):
            print(body.serialized())
            printError(body["message"]?.stringValue ?? "refused")
            throw ExitCode(1)
        case .unreachable(let reason):
            printError(reason)
            throw ExitCode(3)
        }
    }
}

/// Writes `error: …` to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
}
