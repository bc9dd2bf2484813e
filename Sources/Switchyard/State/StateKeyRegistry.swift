import Foundation
import JSONSchema

/// The state-key table in force, and the lookup from a key to the entry that covers it.
///
/// The most specific entry wins, by the rule contracts follow: the exact key first, then the
/// pattern with the longest literal prefix (see ``ChannelPattern/isMoreSpecific(than:)``).
public struct StateKeyRegistry: Sendable {
    /// Every entry, in the order of their key text.
    public let entries: [StateKeyEntry]
    private let table: PatternTable<StateKeyEntry>

    /// Builds a table.
    /// - Throws: ``SwitchyardError`` (`invalid_contract`) when two entries name the same key or pattern.
    public init(_ entries: [StateKeyEntry]) throws(SwitchyardError) {
        var seen: [String: StateKeyEntry] = [:]
        for entry in entries {
            guard seen[entry.key.rawValue] == nil else {
                throw SwitchyardError(.invalidContract, "state key '\(entry.key)' has two entries")
            }
            seen[entry.key.rawValue] = entry
        }
        self.entries = entries.sorted { $0.key.rawValue < $1.key.rawValue }
        table = PatternTable(entries, pattern: \.key)
    }

    /// An empty table: every key is unknown.
    public static let empty = try! StateKeyRegistry([])

    /// The entry that covers `key`, or `nil` when none does.
    public func entry(for key: StateKey) -> StateKeyEntry? {
        table.entry(for: key)
    }

    /// Loads a state-key file (`{"keys": [{"key", "ttl", "origin", "description", "schema"}, …]}`).
    /// - Throws: ``ContractFolderError`` listing every problem found in the file.
    public static func load(from path: String) throws(ContractFolderError) -> StateKeyRegistry {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ContractFolderError(problems: [ContractProblem(file: path, location: "/", message: "cannot read the file as UTF-8")])
        }
        var file = StateKeyFile(path: path)
        let entries = file.decode(text)
        guard file.problems.isEmpty else { throw ContractFolderError(problems: file.problems) }
        do {
            return try StateKeyRegistry(entries)
        } catch {
            throw ContractFolderError(problems: [ContractProblem(file: path, location: "/keys", message: error.message)])
        }
    }

    /// The table Switchyard ships (`Resources/state/state-keys.json`): seed 001's keys and TTLs and
    /// seed 002's cache keys.
    public static func shipped() throws(ContractFolderError) -> StateKeyRegistry {
        try load(from: shippedPath)
    }

    /// Where the shipped table is on disk.
    public static var shippedPath: String {
        Bundle.module.resourceURL!.appendingPathComponent("state/state-keys.json").path
    }

    /// The shipped table, read once; the default of ``RouterConfiguration/stateKeys``.
    static let shippedOnce: StateKeyRegistry = {
        do { return try shipped() } catch { preconditionFailure("the shipped state-key table is broken: \(error)") }
    }()
}
