import Foundation
import RedisTestSupport
import JSONSchema
import SwitchyardCodegen

/// Contracts made to reach every branch of the generator (in Tests/SwitchyardCodegenEdgeTests/contracts,
/// whose types that target compiles and runs): names that are keywords or not identifiers,
/// nullable and mixed types, nested objects and arrays of them, maps, enums, `$ref`s, and schemas
/// that cannot be typed.
enum EdgeContracts {
    /// The folder: the contracts the SwitchyardCodegenEdgeTests target's plugin compiles too.
    static let folder = packageRoot.appendingPathComponent("Tests/SwitchyardCodegenEdgeTests/contracts")

    static let contracts: [CodegenContract] = try! CodegenContract.load(directory: folder.path)

    /// A payload of `edge:kinds` that sets every typed member.
    static let kindsPayload: JSONValue = try! JSONValue(parsing: #"""
        {"class": "c", "default": 1, "self": 1.5, "order-id": "o", "2fa": true, "nullable_required": null, "nullable_optional": "x",
         "mixed": false, "anything": {"any": [1, "two"]}, "tuple": ["t"], "choice": 7,
         "nested": {"level": 2, "inner": {"flag": true, "side": "sell"}},
         "fills": [{"qty": 1, "note": null}, {"qty": 2}], "matrix": [[1.5, null], []], "tags": {"a": "b"}, "details": {"k": [true]},
         "side": "partial_fill", "level": 2, "string": "b", "price": {"amount": 1.25, "currency": "EUR"}, "fee": {"amount": 0.5},
         "tree": {"name": "root", "children": [{"name": "leaf"}]}, "elsewhere": 5, "quote\"d": "q"}
        """#)
}

/// Runs a program and collects what it prints.
func runTool(_ executable: String, _ arguments: [String], in directory: URL? = nil, environment: [String: String]? = nil) async throws -> (
    status: Int32, output: String
) {
    // On a thread of its own: a blocking wait on the concurrency pool (one thread per core) stalls
    // every other test of the process while mypy, tsc or swiftc runs; and one tool at a time.
    try await OneAtATime.tools.run { try await blocking {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    } }
}

/// A new empty folder under the system's temporary folder.
func temporaryFolder(_ name: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("switchyard-codegen-\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// The folder of the package, found from this file's path.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
