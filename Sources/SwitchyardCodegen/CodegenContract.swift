import Foundation
import JSONSchema

/// What code generation reads of a contract file: its channel, version, description, origin and
/// payload schema.
///
/// The generator reads contract files itself, with nothing but ``JSONSchema``, so that the tool the
/// SwiftPM plugin runs stays small; `switchyard contracts codegen` checks the folder with the
/// full contract loader first.
public struct CodegenContract: Sendable {
    /// The channel name or glob pattern, as written.
    public var channel: String
    /// The contract's version.
    public var version: Int
    /// What the channel carries.
    public var description: String
    /// The system the channel comes from, when given.
    public var origin: String?
    /// The payload schema, draft-07.
    public var schema: JSONValue
    /// The file the contract was read from, relative to the contracts folder when read from one.
    public var file: String?

    /// Creates a contract description.
    public init(channel: String, version: Int = 1, description: String = "", origin: String? = nil, schema: JSONValue, file: String? = nil) {
        self.channel = channel
        self.version = version
        self.description = description
        self.origin = origin
        self.schema = schema
        self.file = file
    }

    /// Whether ``channel`` is a glob pattern (it holds `*`, `?`, `[`, `]`, `^` or `\`) rather than one
    /// channel's name.
    public var isPattern: Bool {
        channel.contains { "*?[]^\\".contains($0) }
    }

    /// Reads one contract file.
    /// - Parameters:
    ///   - path: The file.
    ///   - name: How generated code names the file; `path` when `nil`.
    /// - Throws: ``CodegenError`` when the file cannot be read, is not JSON, or lacks `channel` or `schema`.
    public static func load(file path: String, name: String? = nil) throws(CodegenError) -> CodegenContract {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CodegenError("cannot read \(path)")
        }
        let json: JSONValue
        do { json = try JSONValue(parsing: data) } catch { throw CodegenError("\(path): not valid JSON: \(error)") }
        guard let channel = json["channel"]?.stringValue, !channel.isEmpty else {
            throw CodegenError("\(path): 'channel' is required and must be a string")
        }
        guard let schema = json["schema"] else { throw CodegenError("\(path): 'schema' is required") }
        var version = 1
        if case .int(let value)? = json["version"], value >= 1 { version = Int(value) }
        return CodegenContract(
            channel: channel, version: version, description: json["description"]?.stringValue ?? "",
            origin: json["origin"]?.stringValue, schema: schema, file: name ?? path)
    }

    /// Reads every `*.json` file under a folder, recursively, as the contract loader does, ordered
    /// by channel.
    /// - Throws: ``CodegenError`` when the folder or a file cannot be read, or two files give the same channel.
    public static func load(directory: String) throws(CodegenError) -> [CodegenContract] {
        let root = URL(fileURLWithPath: directory).resolvingSymlinksInPath().standardizedFileURL
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CodegenError("\(directory) is not a folder")
        }
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else {
            throw CodegenError("cannot read \(directory)")
        }
        var paths: [String] = []
        for case let url as URL in walker where url.pathExtension == "json" {
            paths.append(url.standardizedFileURL.path)
        }
        var contracts: [CodegenContract] = []
        for path in paths.sorted() {
            let relative = path.hasPrefix(root.path + "/") ? String(path.dropFirst(root.path.count + 1)) : path
            contracts.append(try load(file: path, name: relative))
        }
        return try ordered(contracts)
    }

    /// The contracts ordered by channel, byte by byte.
    /// - Throws: ``CodegenError`` when two give the same channel.
    public static func ordered(_ contracts: [CodegenContract]) throws(CodegenError) -> [CodegenContract] {
        let sorted = contracts.sorted { Array($0.channel.utf8).lexicographicallyPrecedes($1.channel.utf8) }
        for (first, second) in zip(sorted, sorted.dropFirst()) where first.channel == second.channel {
            throw CodegenError("two contracts give the channel '\(first.channel)' (\(first.file ?? "?"), \(second.file ?? "?"))")
        }
        return sorted
    }
}

/// Why code could not be generated.
public struct CodegenError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public let message: String

    /// Creates an error.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
