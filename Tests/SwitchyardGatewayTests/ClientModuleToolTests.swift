import Foundation
import RedisTestSupport
import Testing

/// The browser client's own checks, run by the tools a JavaScript project would use: its unit
/// tests in Node, and its JSDoc types with `tsc --checkJs` (which also writes the shipped
/// `clients/js/switchyard.d.ts`: it must be current).
@Suite struct ClientModuleToolTests {
    static let folder = ClientModuleRouteTests.root.appendingPathComponent("clients/js").path

    static func tool(_ server: TestServer) throws -> String {
        try TestTool.path(server)
    }

    @Test(.needs(.node)) func theUnitTestsPassInNode() async throws {
        let node = try Self.tool(.node)
        let result = try await OneAtATime.tools.run { try await runProgram(node, ["--test", "test/"], directory: Self.folder) }
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("# fail 0") && !result.stdout.contains("# pass 0"), "\(result.stdout)")
    }

    @Test(.needs(.typescript)) func theJSDocTypesCheckAndTheDeclarationsAreCurrent() async throws {
        let tsc = try Self.tool(.typescript)
        let checked = try await OneAtATime.tools.run { try await runProgram(tsc, ["-p", "tsconfig.json", "--noEmit"], directory: Self.folder) }
        #expect(checked.status == 0, "tsc --checkJs: \(checked.stdout)\(checked.stderr)")

        let out = NSTemporaryDirectory() + "client-dts-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: out) }
        let emitted = try await OneAtATime.tools.run { try await runProgram(
            tsc, ["-p", "tsconfig.json", "--declaration", "--emitDeclarationOnly", "--outDir", out], directory: Self.folder) }
        #expect(emitted.status == 0, "\(emitted.stdout)\(emitted.stderr)")
        let fresh = try String(contentsOfFile: out + "/switchyard.d.ts", encoding: .utf8)
        let shipped = try String(contentsOfFile: Self.folder + "/switchyard.d.ts", encoding: .utf8)
        #expect(fresh == shipped, "clients/js/switchyard.d.ts is out of date: run `tsc -p tsconfig.json --declaration --emitDeclarationOnly --outDir .` in clients/js")
    }
}

/// The path a ``TestServer`` variable names, or an error that says to run through `scripts/test`.
enum TestTool {
    struct Missing: Error, CustomStringConvertible {
        let name: String
        var description: String { "\(name) is not set: run the tests through scripts/test, which installs node and node-typescript when they are missing" }
    }

    static func path(_ server: TestServer) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[server.rawValue], !value.isEmpty, FileManager.default.isExecutableFile(atPath: value) else {
            throw Missing(name: server.rawValue)
        }
        return value
    }
}
