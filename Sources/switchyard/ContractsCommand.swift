import ArgumentParser
import Foundation
import JSONSchema
import Switchyard
import SwitchyardCodegen

/// `switchyard contracts check | validate | asyncapi | codegen`.
struct ContractsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "contracts",
        abstract: "Lint contracts, validate payloads, write the AsyncAPI document, and generate typed payloads.",
        subcommands: [Check.self, Validate.self, AsyncAPI.self, CodegenCommand.self]
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

extension ContractsCommand {
    struct CodegenCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "codegen", abstract: "Generate typed payloads (Swift, Python or TypeScript) from the contracts.",
            discussion: """
                Writes one file into --out: SwitchyardContracts.swift, switchyard_contracts.py or \
                switchyard-contracts.d.ts, with one type per contract (see docs/contracts.md, "Typed \
                payloads"). The folder is checked as 'contracts check' loads it first. A schema, or a \
                part of one, that cannot be typed becomes any JSON value; each such place is listed \
                on standard error.
                """)

        @OptionGroup var options: GlobalOptions
        @Option(help: ArgumentHelp("The language: swift, python or typescript.", valueName: "LANGUAGE"))
        var language: CodegenLanguage
        @Option(help: ArgumentHelp("The folder to write the file into; made when missing.", valueName: "DIR"))
        var out: String
        @Option(
            name: .customLong("channel"),
            help: ArgumentHelp("Only the contract of this channel name or pattern (repeat it for several; default: every contract).", valueName: "CHANNEL"))
        var channels: [String] = []

        func run() async throws {
            let folder = try options.settings().contracts ?? ContractRegistry.shippedDirectory
            let registry: ContractRegistry
            do { registry = try ContractRegistry.load(from: folder) } catch {
                throw ValidationError("the contracts cannot be loaded:\n\(error)")
            }
            var contracts: [CodegenContract]
            do { contracts = try CodegenContract.load(directory: folder) } catch { throw ValidationError("\(error)") }
            if !channels.isEmpty {
                var chosen: Set<String> = []
                for channel in channels {
                    if contracts.contains(where: { $0.channel == channel }) {
                        chosen.insert(channel)
                    } else if let name = try? ChannelName(channel), let contract = registry.contract(for: name) {
                        chosen.insert(contract.channel.rawValue)
                    } else {
                        throw ValidationError("no contract in \(folder) covers '\(channel)'")
                    }
                }
                contracts = contracts.filter { chosen.contains($0.channel) }
            }
            let (file, fallbacks) = try Codegen.generate(language, contracts: contracts)
            let directory = URL(fileURLWithPath: out)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let path = directory.appendingPathComponent(file.name)
            try Data(file.contents.utf8).write(to: path, options: .atomic)
            for fallback in fallbacks {
                let typed = fallback.location == "/" ? "the payload is kept as a JSON object" : "typed as any JSON value"
                FileHandle.standardError.write(Data("note: \(fallback.channel): schema \(fallback.location): \(fallback.reason); \(typed)\n".utf8))
            }
            print("wrote \(path.path): \(contracts.count) payload type\(contracts.count == 1 ? "" : "s")")
        }
    }
}

extension CodegenLanguage: ExpressibleByArgument {}

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
