import Foundation
import HummingbirdTesting
import JSONSchema
import RedisTestSupport
import Switchyard
import RedisTestSupport
import Testing

/// Runs docs/examples/ws_resume.py (the `websockets` package) against a live gateway.
@Suite(.needs(.python)) struct WebSocketInteropTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `SWITCHYARD_PYTHON`, else `python3`.
    static var python: String { ProcessInfo.processInfo.environment["SWITCHYARD_PYTHON"] ?? "python3" }

    static func run(_ arguments: [String]) async throws -> (status: Int32, output: String, errors: String) {
        let result = try await runProgram("/usr/bin/env", [python] + arguments)
        return (result.status, result.stdout, result.stderr)
    }

    @Test func aPythonClientResumesAWildcardSubscriptionWithoutGapOrDuplicate() async throws {
        let probe = try await Self.run(["-c", "import websockets"])
        try #require(
            probe.status == 0,
            "websockets is missing for '\(Self.python)': run the tests through scripts/test, or `\(Self.python) -m pip install websockets`")
        let gateway = try TestGateway(allowsUnknownChannels: true)
        let prefix = "trades:py_\(UUID().uuidString.prefix(6).lowercased())"
        try await gateway.live { client in
            let port = try #require(client.port)
            let result = try await Self.run([
                Self.root.appendingPathComponent("docs/examples/ws_resume.py").path,
                "--url", "ws://127.0.0.1:\(port)/v1/ws", "--pattern", "\(prefix)_*",
                "--channels", "\(prefix)_a,\(prefix)_b", "--events", "20",
            ])
            try #require(result.status == 0, "the Python client failed: \(result.output) \(result.errors)")
            let report = try JSONValue(parsing: Array(result.output.utf8))
            #expect(report["ok"] == true)
            let expected = JSONValue.array((1...20).map { .int(Int64($0)) })
            #expect(report["received"]?["\(prefix)_a"] == expected)
            #expect(report["received"]?["\(prefix)_b"] == expected)
            #expect(report["resume"]?["\(prefix)_a"]?.isNumber == true)
        }
    }
}
