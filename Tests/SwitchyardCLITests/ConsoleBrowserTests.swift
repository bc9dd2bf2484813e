import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import JSONSchema
import RedisTestSupport
import Testing

/// The console in a real browser: `switchyard serve --demo` on a free port, headless Chromium
/// driven over the DevTools protocol by `scripts/console-check.py`, which reports what the DOM
/// shows and saves a screenshot to `.build/console-screenshot.png`.
@Suite(.needs(.redis, .postgres, .python, .chromium)) struct ConsoleBrowserTests {
    struct MissingTool: Error, CustomStringConvertible {
        let name: String
        var description: String {
            "\(name) is not set: run the tests through scripts/test, which installs chromium when it is missing and sets SWITCHYARD_CHROMIUM and SWITCHYARD_PYTHON"
        }
    }

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func tool(_ name: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty, FileManager.default.isExecutableFile(atPath: value) else {
            throw MissingTool(name: name)
        }
        return value
    }

    static let apiKey = "console-key-51c0e2"

    /// Starts `switchyard serve --demo` on `port` (with a config file when given) and waits until
    /// it answers `/healthz`.
    static func serveDemo(port: Int, config: String? = nil) async throws -> Process {
        let server = Process()
        server.executableURL = URL(fileURLWithPath: CLITests.binary)
        server.arguments = ["serve", "--demo", "--demo-seed", "7", "--port", String(port)] + (config.map { ["--config", $0] } ?? [])
        server.environment = ProcessInfo.processInfo.environment.filter { !["REDIS_URL", "POSTGRES_URL", "SWITCHYARD_CONFIG"].contains($0.key) }
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        if try await ClientCommandTests.answersHealth("http://127.0.0.1:\(port)", while: server) { return server }
        server.terminate()
        await waitForExit(server)
        throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "switchyard serve --demo did not come up on port \(port)"])
    }

    /// Stops a server with SIGTERM, and with SIGKILL when it is still draining after 15 s: the
    /// restarts are about the page reconnecting, not about how long a graceful shutdown takes
    /// while a browser holds connections open.
    static func stop(_ server: Process) async throws {
        server.terminate()
        _ = try await eventually(timeout: .seconds(15), every: .milliseconds(200)) { !server.isRunning }
        if server.isRunning {
            print("ConsoleBrowserTests: switchyard serve was still draining 15 s after SIGTERM; killing it")
            kill(server.processIdentifier, SIGKILL)
        }
        await waitForExit(server)
    }

    @Test(.timeLimit(.minutes(8)))
    func consoleShowsLiveDataRequeuesReconnectsAndTakesAToken() async throws {
        let chromium = try Self.tool("SWITCHYARD_CHROMIUM")
        let python = try Self.tool("SWITCHYARD_PYTHON")
        let port = try ClientCommandTests.freePort()
        let url = "http://127.0.0.1:\(port)/"
        var server = try await Self.serveDemo(port: port)
        defer {
            server.terminate()
            server.waitUntilExit()
        }
        let handshake = NSTemporaryDirectory() + "console-check-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: handshake, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: handshake) }

        let screenshot = Self.root.appendingPathComponent(".build/console-screenshot.png").path
        try? FileManager.default.removeItem(atPath: screenshot)
        let check = Process()
        check.executableURL = URL(fileURLWithPath: python)
        check.arguments = [
            Self.root.appendingPathComponent("scripts/console-check.py").path, "--chromium", chromium, "--url", url,
            "--screenshot", screenshot, "--timeout", "240", "--requeue", "--restart-handshake", handshake, "--token", Self.apiKey,
        ]
        let config: JSONValue = [
            "auth": ["api_keys": [["name": "console-tests", "key": .string(Self.apiKey), "grants": ["publish": ["*"], "subscribe": ["*"]]]]]
        ]
        try config.serialized().write(toFile: handshake + "/switchyard.json", atomically: true, encoding: .utf8)
        let out = Pipe()
        let err = Pipe()
        check.standardOutput = out
        check.standardError = err
        try check.run()

        // Once the page has shown everything and requeued a dead letter: the letter is gone on the
        // server too; then restart the gateway under the page, which must reconnect by itself; then
        // restart it with auth, where the page must ask for the token and work once given it.
        for round in 1...2 {
            let ready = handshake + "/ready-\(round)"
            _ = try await eventually(timeout: .seconds(240), every: .milliseconds(200)) {
                !check.isRunning || FileManager.default.fileExists(atPath: ready)
            }
            guard FileManager.default.fileExists(atPath: ready) else { break }
            if round == 1 {
                let sofar = try JSONValue(parsing: try String(contentsOfFile: ready, encoding: .utf8))
                let event = try #require(sofar["requeued"]?["event"]?.stringValue, "\(sofar)")
                let channel = try #require(sofar["requeued"]?["channel"]?.stringValue)
                let (data, _) = try await URLSession.shared.data(from: URL(string: url + "v1/dlq/" + channel)!)
                let letters = try JSONValue(parsing: String(decoding: data, as: UTF8.self))["dead_letters"]?.arrayValue
                #expect(letters != nil, "GET /v1/dlq/\(channel) answered \(String(decoding: data, as: UTF8.self))")
                #expect(!(letters ?? []).contains { $0["envelope"]?["event_id"]?.stringValue == event }, "the requeued event is a dead letter again")
            }
            try await Self.stop(server)
            server = try await Self.serveDemo(port: port, config: round == 2 ? handshake + "/switchyard.json" : nil)
            _ = FileManager.default.createFile(atPath: handshake + "/restarted-\(round)", contents: nil)
        }

        let (stdout, stderr) = try await blocking {
            let stdout = out.fileHandleForReading.readDataToEndOfFile()
            let stderr = err.fileHandleForReading.readDataToEndOfFile()
            check.waitUntilExit()
            return (stdout, stderr)
        }
        let output = String(decoding: stdout, as: UTF8.self)
        let report = try JSONValue(parsing: output.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(check.terminationStatus == 0, "\(output)\(String(decoding: stderr, as: UTF8.self))")
        #expect(report["error"] == nil, "\(report)")

        let probe = try #require(report["probe"], "\(report)")
        #expect(probe["status"] == "connected", "\(probe)")
        #expect((probe["events"]?.doubleValue ?? 0) >= 5, "no events in the tail: \(probe)")
        let rated = probe["rated_channels"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(rated.contains("market_data:btc_price") && rated.contains { $0.hasPrefix("price.updated.") }, "rates: \(rated)")
        #expect((probe["sparklines"]?.doubleValue ?? 0) >= 3)
        let groups = probe["groups"]?.arrayValue ?? []
        #expect(Set(groups.compactMap { $0["group"]?.stringValue }) == ["risk", "ledger"], "\(groups)")
        for group in groups {
            let cells = group["cells"]?.arrayValue?.compactMap(\.stringValue) ?? []
            #expect(cells.count == 5 && Int(cells[2]) != nil && Double(cells[3]) != nil, "lag cells of \(group)")
        }
        #expect(report["requeued"]?["event"]?.stringValue != nil, "no dead letter was requeued from the page: \(report)")
        let reconnected = try #require(report["reconnected"], "the page did not reconnect after the restart: \(report)")
        #expect((reconnected["reconnects"]?.doubleValue ?? 0) >= 1)
        #expect(reconnected["marker"]?.stringValue?.contains("reconnected; resuming") == true, "\(reconnected)")
        #expect((reconnected["events_after"]?.doubleValue ?? 0) >= 3, "\(reconnected)")
        let filtered = try #require(report["filtered"], "\(report)")
        #expect(filtered["all_match"] == true, "the tail shows channels outside price.updated.*: \(filtered)")
        let token = try #require(report["token"], "the page did not work with the token: \(report)")
        #expect(token["status"] == "connected" && (token["events_after"]?.doubleValue ?? 0) >= 3, "\(token)")
        #expect(token["poll_status"]?.stringValue?.hasPrefix("updated") == true, "\(token)")
        #expect(FileManager.default.fileExists(atPath: screenshot))
    }
}
