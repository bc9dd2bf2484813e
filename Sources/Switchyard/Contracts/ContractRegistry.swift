import Foundation
import JSONSchema

/// The contracts in force, and the lookup from a channel to the contract that covers it.
///
/// The most specific contract wins: a contract for the exact name first, then the pattern with
/// the longest literal prefix (the bytes before its first glob character); between patterns with
/// equally long prefixes the longer pattern wins, then the one that sorts first byte by byte.
/// `contracts check` reports such overlaps.
public struct ContractRegistry: Sendable {
    /// Every contract, in the order of their channel text.
    public let contracts: [Contract]
    private let table: PatternTable<Contract>

    /// Builds a registry from contracts.
    /// - Throws: ``SwitchyardError`` (`invalid_contract`) when two contracts claim the same channel or pattern.
    public init(_ contracts: [Contract]) throws(SwitchyardError) {
        var seen: [String: Contract] = [:]
        for contract in contracts {
            if let other = seen[contract.channel.rawValue] {
                throw SwitchyardError(
                    .invalidContract,
                    "'\(contract.channel)' has two contracts: \(other.file ?? "?") and \(contract.file ?? "?")")
            }
            seen[contract.channel.rawValue] = contract
        }
        self.contracts = contracts.sorted { $0.channel.rawValue < $1.channel.rawValue }
        self.table = PatternTable(contracts, pattern: \.channel)
    }

    /// The contract that covers `channel`, or `nil` when none does.
    public func contract(for channel: ChannelName) -> Contract? {
        table.entry(for: channel)
    }

    /// Loads every `*.json` file under `directory`, recursively, in path order.
    /// - Throws: ``ContractFolderError`` listing every problem found in every file.
    public static func load(from directory: String) throws(ContractFolderError) -> ContractRegistry {
        let (contracts, problems) = read(directory)
        guard problems.isEmpty else { throw ContractFolderError(problems: problems) }
        do {
            return try ContractRegistry(contracts)
        } catch {
            throw ContractFolderError(problems: [ContractProblem(file: directory, location: "/", message: error.message)])
        }
    }

    /// The contracts Switchyard ships (the repository's `contracts/` folder, bundled as a resource).
    public static func shipped() throws(ContractFolderError) -> ContractRegistry {
        try load(from: shippedDirectory)
    }

    /// Where the shipped contracts are on disk.
    public static var shippedDirectory: String {
        Bundle.module.resourceURL!.appendingPathComponent("contracts").path
    }

    /// Reads every contract file under `directory`, returning the contracts that decoded and
    /// every problem found, duplicate channels included.
    static func read(_ path: String) -> ([Contract], [ContractProblem]) {
        let directory = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            return ([], [ContractProblem(file: path, location: "/", message: "no such folder")])
        }
        var problems: [ContractProblem] = []
        var contracts: [Contract] = []
        var claimed: [String: String] = [:]
        for path in jsonFiles(under: directory) {
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                problems.append(ContractProblem(file: path, location: "/", message: "cannot read the file as UTF-8"))
                continue
            }
            var file = ContractFile(path: path)
            let contract = file.decode(text)
            problems += file.problems
            guard let contract else { continue }
            if let other = claimed[contract.channel.rawValue] {
                problems.append(ContractProblem(file: path, location: "/channel", message: "'\(contract.channel)' is already the channel of \(other)"))
                continue
            }
            claimed[contract.channel.rawValue] = path
            contracts.append(contract)
        }
        if contracts.isEmpty && problems.isEmpty {
            problems.append(ContractProblem(file: path, location: "/", message: "the folder holds no contract (*.json) files"))
        }
        return (contracts, problems)
    }

    private static func jsonFiles(under directory: String) -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: directory) else { return [] }
        var paths: [String] = []
        while let relative = enumerator.nextObject() as? String {
            if relative.hasSuffix(".json") { paths.append((directory as NSString).appendingPathComponent(relative)) }
        }
        return paths.sorted()
    }
}
