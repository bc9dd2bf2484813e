import Foundation
import PackagePlugin

/// Generates `Codable` payload types from a target's contracts at build time.
///
/// The contracts are the `*.json` files of a `contracts` folder in the target's own folder, else of
/// the package's `contracts` folder. The generated `SwitchyardContracts.swift` conforms each type to
/// Switchyard's `ContractPayload`, so the target must depend on the `Switchyard` library.
@main
struct SwitchyardContractsPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) async throws -> [Command] {
        let candidates = [target.directoryURL.appending(path: "contracts"), context.package.directoryURL.appending(path: "contracts")]
        guard let folder = candidates.first(where: Self.isFolder) else {
            Diagnostics.error("SwitchyardContractsPlugin: no contracts folder in \(target.directoryURL.path) or \(context.package.directoryURL.path)")
            return []
        }
        let inputs = Self.jsonFiles(in: folder)
        let output = context.pluginWorkDirectoryURL.appending(path: "SwitchyardContracts.swift")
        return [
            .buildCommand(
                displayName: "Generating payload types from \(inputs.count) contracts in \(folder.path)",
                executable: try context.tool(named: "switchyard-codegen").url,
                arguments: ["--language", "swift", "--output", output.path, "--contracts", folder.path],
                inputFiles: inputs,
                outputFiles: [output])
        ]
    }

    private static func isFolder(_ url: URL) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    private static func jsonFiles(in folder: URL) -> [URL] {
        guard let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil) else { return [] }
        return walker.compactMap { $0 as? URL }.filter { $0.pathExtension == "json" }.sorted { $0.path < $1.path }
    }
}
