import ArgumentParser
import Foundation
import JSONSchema
import Switchyard

/// `switchyard contracts check | validate | asyncapi`.
struct ContractsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "contracts",
        abstract: "Lint contracts, validate payloads, and write the AsyncAPI document.",
        subcommands: [Check.self, Validate.self, AsyncAPI.self]
    )

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Lint a contract folder; exit 1 listing every problem.")

        @OptionGroup var options: GlobalOptions
        @Argument(help: ArgumentHelp("The folder to check (default: --contracts, SWITCHYARD_CONTRACTS or the config file's, else the shipped contracts).", valueName: "DIR"))
        var directory: String?

        func run() async throws {
            let folder = try directory ?? options.settings().contracts ?? ContractRegistry.shippedDirectory
            let problems = ContractLinter.lint(directory: folder)
            guard problems.isEmpty else {
                for problem in problems { print(problem) }
                print("\(problems.count) problem\(problems.count == 1 ? "" : "s") in \(folder)")
                throw ExitCode(1)
            }
            let count = (try? ContractRegistry.load(from: folder).contracts.count) ?? 0
            print("OK: \(count) contracts in \(folder)")
        }
    }

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a payload, or a whole envelope, for a channel.",
            discussion: """
                Reads FILE, or standard input when FILE is '-' or left out. On failure prints the \
                structured error (the validation_error shape) on standard output and exits 1.
                """)

        @OptionGroup var options: GlobalOptions
        @Argument(help: "The channel the payload is published to.") var channel: String
        @Argument(help: ArgumentHelp("The payload or envelope file, or '-' for standard input.", valueName: "FILE|-"))
        var file: String = "-"

        func run() async throws {
            let registry = try loadRegistry(options)
            let bytes: [UInt8]
            if file == "-" {
                bytes = Array(FileHandle.standardInput.readDataToEndOfFile())
            } else {
                guard let data = FileManager.default.contents(atPath: file) else {
                    throw ValidationError("cannot read \(file)")
                }
                bytes = Array(data)
            }
            do {
                _ = try PayloadGuard(registry: registry).check(channel: try ChannelName(channel), document: bytes)
                print("OK")
            } catch {
                print(error.body.serialized())
                throw ExitCode(1)
            }
        }
    }

    struct AsyncAPI: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "asyncapi", abstract: "Print an AsyncAPI 3.0 document of the contracts.")

        @OptionGroup var options: GlobalOptions
        @Argument(help: ArgumentHelp("The contracts folder (default: --contracts, else the shipped contracts).", valueName: "DIR"))
        var directory: String?

        func run() async throws {
            var folderOptions = options
            if let directory { folderOptions.contracts = directory }
            print(AsyncAPIDocument.make(from: try loadRegistry(folderOptions)).serialized())
        }
    }
}

/// The registry the settings name (`--contracts`, `SWITCHYARD_CONTRACTS`, the config file's
/// `contracts`), or the shipped one.
func loadRegistry(_ options: GlobalOptions) throws -> ContractRegistry {
    let folder = try options.settings().contracts
    do {
        if let folder { return try ContractRegistry.load(from: folder) }
        return try ContractRegistry.shipped()
    } catch {
        throw ValidationError("the contracts cannot be loaded:\n\(error)")
    }
}
