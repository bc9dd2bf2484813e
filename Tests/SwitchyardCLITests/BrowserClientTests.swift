import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import JSONSchema
import Logging
import RedisClient
import RedisTestSupport
import Switchyard
import SwitchyardRedis
import Testing

/// The browser client (`/v1/client.js`) in a real browser against a real `switchyard serve` on
/// Redis: headless Chromium driven by `scripts/client-check.py`, through a page that imports the
/// module from the gateway and renders every event its handler is given.
@Suite(.needs(.redis, .python, .chromium)) struct BrowserClientTests {
    static let logger = Logger(label: "browser-client-tests")
    static let apiKey = "browser-key-3e91c4"
    static let rewind = 5

    /// Starts `switchyard serve` on `port` with `config`, on Redis or else on the embedded engine
    /// with the contracts in `contracts`, and waits until it answers `/healthz`.
    static func serve(port: Int, config: String, contracts: String? = nil) async throws -> Process {
        let server = Process()
        server.executableURL = URL(fileURLWithPath: CLITests.binary)
        let engine = try contracts.map { ["--contracts", $0] } ?? ["--redis", try TestEnvironment.value("REDIS_URL")]
        server.arguments = ["serve", "--port", String(port), "--config", config] + engine
        server.environment = ProcessInfo.processInfo.environment.filter { !["REDIS_URL", "POSTGRES_URL", "SWITCHYARD_CONFIG"].contains($0.key) }
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        if try await ClientCommandTests.answersHealth("http://127.0.0.1:\(port)", while: server) { return server }
        server.terminate()
        await waitForExit(server)
        throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "switchyard serve did not come up on port \(port)"])
    }

    /// One event as stored: its place in the channel and its id.
    struct Stored: Sendable, Hashable {
        let sequence: Int64
        let eventID: String
    }

    /// Publishes `{"n": n}` (and `pad`, when given) through the gateway's HTTP API with the API key.
    static func publish(_ base: String, _ channel: String, _ n: Int, eventID: String? = nil, pad: String? = nil) async throws -> (Stored, duplicate: Bool) {
        var url = base + "v1/channels/\(channel)/events"
        if let eventID { url += "?event_id=\(eventID)" }
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue(apiKey, forHTTPHeaderField: "X-API-Key")
        request.httpBody = Data((pad.map { #"{"n":\#(n),"pad":"\#($0)"}"# } ?? #"{"n":\#(n)}"#).utf8)
        let (data, response) = try await URLSession.shared.data(for: request)
        let body = try JSONValue(parsing: String(decoding: data, as: UTF8.self))
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard status == 201 || status == 200, let sequence = body["sequence_number"]?.integer, let id = body["event_id"]?.stringValue else {
            throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "publish \(n) answered \(status): \(body)"])
        }
        return (Stored(sequence: sequence, eventID: id), body["duplicate"]?.boolValue ?? false)
    }

    /// Publishes `count` events `{"n": first…, "pad": pad}` in batches of 100 (`POST /v1/events:batch`); returns the last sequence number.
    static func publishBatches(_ base: String, _ channel: String, from first: Int, count: Int, pad: String) async throws -> Int64 {
        var last: Int64 = 0
        for start in stride(from: first, to: first + count, by: 100) {
            let events = (start..<min(first + count, start + 100)).map { n -> JSONValue in
                ["channel": .string(channel), "data": ["n": .int(Int64(n)), "pad": .string(pad)]]
            }
            var request = URLRequest(url: URL(string: base + "v1/events:batch")!)
            request.httpMethod = "POST"
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.setValue(apiKey, forHTTPHeaderField: "X-API-Key")
            request.httpBody = Data(JSONValue.object(["events": .array(events)]).serialized().utf8)
            let (data, response) = try await URLSession.shared.data(for: request)
            let body = try JSONValue(parsing: String(decoding: data, as: UTF8.self))
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            guard status == 200 || status == 201, let sequence = body["receipts"]?.arrayValue?.last?["sequence_number"]?.integer else {
                throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "batch from \(start) answered \(status): \(body)"])
            }
            last = sequence
        }
        return last
    }

    /// The page subscribes to a lossless channel and publishes its first event through the
    /// connection (and one it has no grant for); the test publishes through the gateway, stores
    /// one event id a second time (its dedup mark removed, as after the dedup window), kills the
    /// gateway with SIGKILL while events keep arriving in Redis, starts it again on the same port,
    /// and publishes more. The page resumes from an older checkpoint on its reconnect, so the
    /// gateway sends a window it has rendered already. It must render every event exactly once, in
    /// sequence order, with no gap; the client with a wrong token must end `unauthorized`.
    @Test(.timeLimit(.minutes(6)))
    func aPageRendersEveryEventOnceAcrossAGatewayRestart() async throws {
        let chromium = try ConsoleBrowserTests.tool("SWITCHYARD_CHROMIUM")
        let python = try ConsoleBrowserTests.tool("SWITCHYARD_PYTHON")
        try await RedisServerGate.shared.shared {
            let folder = NSTemporaryDirectory() + "browser-client-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: folder) }
            let channel = "trades:user_browser_\(UUID().uuidString.prefix(8).lowercased())"
            let config: JSONValue = [
                "auth": ["api_keys": [["name": "browser-tests", "key": .string(Self.apiKey), "grants": ["publish": [.string(channel)], "subscribe": [.string(channel)]]]]]
            ]
            try config.serialized().write(toFile: folder + "/switchyard.json", atomically: true, encoding: .utf8)
            let port = try ClientCommandTests.freePort()
            let base = "http://127.0.0.1:\(port)/"
            var server = try await Self.serve(port: port, config: folder + "/switchyard.json")
            defer {
                server.terminate()
                server.waitUntilExit()
            }

            let check = Process()
            check.executableURL = URL(fileURLWithPath: python)
            check.arguments = [
                ConsoleBrowserTests.root.appendingPathComponent("scripts/client-check.py").path, "--chromium", chromium, "--url", base,
                "--channel", channel, "--token", Self.apiKey, "--bad-token", "not-a-key-" + UUID().uuidString, "--handshake", folder,
                "--rewind", String(Self.rewind), "--timeout", "200",
            ]
            let out = Pipe()
            let err = Pipe()
            check.standardOutput = out
            check.standardError = err
            try check.run()
            defer { if check.isRunning { check.terminate() } }
            _ = try await eventually(timeout: .seconds(120), every: .milliseconds(200)) {
                !check.isRunning || FileManager.default.fileExists(atPath: folder + "/ready")
            }

            var stored: [Stored] = []
            var duplicateSequence: Int64 = -1
            if FileManager.default.fileExists(atPath: folder + "/ready") {
                // The page published the channel's first event through its connection.
                let ready = try JSONValue(parsing: try String(contentsOfFile: folder + "/ready", encoding: .utf8))
                let receipt = ready["receipt"]
                #expect(receipt?["sequence_number"]?.integer == 1 && receipt?["duplicate"] == false, "\(ready)")
                #expect(ready["refusedPublish"] == "forbidden", "a publish without a grant: \(ready)")
                #expect(ready["bad"]?["publish"] == "not_connected", "\(ready)")
                stored.append(Stored(sequence: receipt?["sequence_number"]?.integer ?? -1, eventID: receipt?["event_id"]?.stringValue ?? ""))
                // Through the gateway, one event with an id of the test's choosing.
                let chosen = UUID().uuidString.lowercased()
                for n in 1...20 { stored.append(try await Self.publish(base, channel, n, eventID: n == 7 ? chosen : nil).0) }
                // The same id again once its dedup mark is gone: stored again, with a new number.
                try await ClientCommandTests.redisCLI(["DEL", "dedup:{\(channel)}:\(chosen)"])
                let (again, duplicate) = try await Self.publish(base, channel, 21, eventID: chosen)
                #expect(!duplicate && again.eventID == chosen && again.sequence == 22, "\(again)")
                stored.append(again)
                duplicateSequence = again.sequence

                // Straight into Redis while the gateway is killed and started again.
                let engine = RedisEngine(client: try RedisClient(configuration: try TestEnvironment.configuration(), logger: Self.logger), logger: Self.logger)
                let router = Switchyard.Router(
                    contracts: try ContractRegistry([]), engine: engine,
                    configuration: RouterConfiguration(source: "browser-tests", allowsUnknownChannels: true), logger: Self.logger)
                let name = try ChannelName(channel)
                let feeder = Task {
                    var receipts: [Stored] = []
                    for n in 22...81 {
                        let receipt = try await router.publish(to: name, payload: ["n": .int(Int64(n))])
                        receipts.append(Stored(sequence: receipt.sequenceNumber ?? -1, eventID: receipt.eventID.description))
                        try await Task.sleep(for: .milliseconds(25))
                    }
                    return receipts
                }
                try await Task.sleep(for: .milliseconds(300))
                kill(server.processIdentifier, SIGKILL)
                await waitForExit(server)
                try await Task.sleep(for: .milliseconds(700))
                server = try await Self.serve(port: port, config: folder + "/switchyard.json")
                stored += try await feeder.value
                for n in 82...91 { stored.append(try await Self.publish(base, channel, n).0) }
                let want: JSONValue = ["count": .int(Int64(stored.count - 1)), "last_sequence": .int(stored.map(\.sequence).max() ?? 0)]
                try want.serialized().write(toFile: folder + "/published.tmp", atomically: true, encoding: .utf8)
                try FileManager.default.moveItem(atPath: folder + "/published.tmp", toPath: folder + "/published")
            }

            let (stdout, stderr) = try await blocking {
                let stdout = out.fileHandleForReading.readDataToEndOfFile()
                let stderr = err.fileHandleForReading.readDataToEndOfFile()
                check.waitUntilExit()
                return (stdout, stderr)
            }
            let output = String(decoding: stdout, as: UTF8.self)
            let report = try JSONValue(parsing: output.trimmingCharacters(in: .whitespacesAndNewlines))
            try #require(check.terminationStatus == 0, "\(output)\(String(decoding: stderr, as: UTF8.self))")

            // Every event once, in sequence order, no gap: exactly what was stored, but for the
            // second storing of an id the page had rendered already.
            let expected = stored.sorted { $0.sequence < $1.sequence }.filter { $0.sequence != duplicateSequence }
            #expect(expected.map(\.sequence) == Array(1...92).filter { $0 != duplicateSequence }, "what was stored: \(stored)")
            let rendered = (report["rendered"]?.arrayValue ?? []).map { Stored(sequence: $0.arrayValue?.first?.integer ?? -1, eventID: $0.arrayValue?.last?.stringValue ?? "") }
            #expect(rendered == expected, "rendered \(rendered.map(\.sequence))")
            #expect(Set(rendered.map(\.eventID)).count == rendered.count, "an event id rendered twice")
            #expect(report["positions"]?[channel]?.integer == 92)

            // What the client dropped before the handler: the id stored twice, and the rewound window.
            let duplicates = report["duplicates"]?.arrayValue ?? []
            #expect(duplicates.contains { $0["seq"]?.integer == duplicateSequence && $0["reason"] == "event_id" }, "\(duplicates)")
            // The rewound window may include the second storing of the id itself, when the gateway was
            // killed before the page got anything after it: leave out one entry of that number, not all.
            var replayed = duplicates
            if let first = replayed.firstIndex(where: { $0["seq"]?.integer == duplicateSequence }) { replayed.remove(at: first) }
            #expect(replayed.count == Self.rewind && replayed.allSatisfy { $0["reason"] == "event_id" }, "the rewound window: \(replayed)")
            let renderedIDs = Set(rendered.map(\.eventID))
            #expect(replayed.allSatisfy { renderedIDs.contains($0["event_id"]?.stringValue ?? "") })

            // The states a status indicator shows: live, lost (1006), live again on the second connection.
            let states = (report["states"]?.arrayValue ?? []).compactMap { $0["state"]?.stringValue }
            #expect(states.first == "connecting" && states.last == "open", "\(states)")
            let lost = (report["states"]?.arrayValue ?? []).first { $0["state"] == "reconnecting" }
            #expect(lost?["code"]?.integer == 1006, "\(report["states"] ?? .null)")
            #expect(report["states"]?.arrayValue?.last?["connections"]?.integer == 2)
            #expect(report["conflated"]?.arrayValue == [] && report["gaps"]?.arrayValue == [], "\(report)")
            #expect(report["errors"]?.arrayValue == [], "\(report["errors"] ?? .null)")

            // A wrong token: refused before the upgrade, reported as such, not retried, nothing delivered.
            let bad = report["bad"]
            let badStates = bad?["states"]?.arrayValue ?? []
            #expect(badStates.last?["state"] == "unauthorized" && badStates.last?["error"] == "unauthorized", "\(badStates)")
            #expect(badStates.filter { $0["state"] == "connecting" }.count == 1, "a refused token was tried again: \(badStates)")
            #expect(bad?["events"]?.integer == 0)
        }
    }
    /// A page that falls behind on a conflatable channel (its scripts paused in the debugger while
    /// 3,000 events of 8 KB are published, far more than the socket buffers and the gateway's
    /// queue hold) stays connected and is told what conflation skipped: the events it rendered
    /// and the ranges its conflation notices name are every event of the channel, each once.
    @Test(.timeLimit(.minutes(5)))
    func aPageThatFallsBehindIsToldWhatConflationSkipped() async throws {
        let chromium = try ConsoleBrowserTests.tool("SWITCHYARD_CHROMIUM")
        let python = try ConsoleBrowserTests.tool("SWITCHYARD_PYTHON")
        let folder = NSTemporaryDirectory() + "browser-conflation-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder + "/contracts", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let channel = "market_data:browser_conflation"
        let contract: JSONValue = [
            "channel": "market_data:browser_*", "version": 1, "description": "a conflatable channel without a rate limit",
            "schema": ["type": "object"],
            "policy": [
                "retention": "1h", "max_size_bytes": 1_048_576, "rate_limit": ["per_second": 1_000_000, "burst": 1_000_000],
                "delivery": "durable", "conflatable": true, "critical": false,
            ],
        ]
        try contract.serialized().write(toFile: folder + "/contracts/browser.json", atomically: true, encoding: .utf8)
        let config: JSONValue = [
            "auth": ["api_keys": [["name": "browser-tests", "key": .string(Self.apiKey), "grants": ["publish": [.string(channel)], "subscribe": [.string(channel)]]]]]
        ]
        try config.serialized().write(toFile: folder + "/switchyard.json", atomically: true, encoding: .utf8)
        let port = try ClientCommandTests.freePort()
        let base = "http://127.0.0.1:\(port)/"
        let server = try await Self.serve(port: port, config: folder + "/switchyard.json", contracts: folder + "/contracts")
        defer {
            server.terminate()
            server.waitUntilExit()
        }

        let check = Process()
        check.executableURL = URL(fileURLWithPath: python)
        check.arguments = [
            ConsoleBrowserTests.root.appendingPathComponent("scripts/client-check.py").path, "--chromium", chromium, "--url", base,
            "--channel", channel, "--token", Self.apiKey, "--bad-token", "not-a-key", "--handshake", folder, "--pause", "--timeout", "200",
        ]
        let out = Pipe()
        check.standardOutput = out
        check.standardError = FileHandle.nullDevice
        try check.run()
        defer { if check.isRunning { check.terminate() } }
        _ = try await eventually(timeout: .seconds(120), every: .milliseconds(200)) {
            !check.isRunning || FileManager.default.fileExists(atPath: folder + "/ready")
        }
        var last: Int64 = 0
        if FileManager.default.fileExists(atPath: folder + "/ready") {
            // In batches, so the pause stays short whatever the machine's load: a page paused longer
            // than the gateway's ping interval (30 s) is rightly disconnected, which is not this test's subject.
            let pad = String(repeating: "x", count: 8000)
            last = try await Self.publishBatches(base, channel, from: 1, count: 3000, pad: pad)
            let want: JSONValue = ["count": 0, "last_sequence": .int(last)]
            try want.serialized().write(toFile: folder + "/published.tmp", atomically: true, encoding: .utf8)
            try FileManager.default.moveItem(atPath: folder + "/published.tmp", toPath: folder + "/published")
        }
        let stdout = try await blocking {
            let stdout = out.fileHandleForReading.readDataToEndOfFile()
            check.waitUntilExit()
            return stdout
        }
        let output = String(decoding: stdout, as: UTF8.self)
        let report = try JSONValue(parsing: output.trimmingCharacters(in: .whitespacesAndNewlines))
        try #require(check.terminationStatus == 0, "\(output)")

        let rendered = (report["rendered"]?.arrayValue ?? []).compactMap { $0.arrayValue?.first?.integer }
        #expect(rendered.first == 1 && rendered.last == last && zip(rendered, rendered.dropFirst()).allSatisfy { $0 < $1 }, "rendered out of order")
        let notices = report["conflated"]?.arrayValue ?? []
        #expect(!notices.isEmpty, "3,000 events of 8 KB to a paused page, and nothing was conflated")
        var seen = Set(rendered)
        var counted = rendered.count
        for notice in notices {
            let from = notice["from"]?.integer ?? 0, to = notice["to"]?.integer ?? -1
            #expect(notice["channel"]?.stringValue == channel && notice["count"]?.integer == to - from + 1, "\(notice)")
            #expect(from <= to && (from...to).allSatisfy { !seen.contains($0) }, "a notice names rendered events: \(notice)")
            seen.formUnion(from...max(from, to))
            counted += Int(to - from + 1)
        }
        #expect(seen == Set(1...last) && counted == Int(last), "rendered and skipped do not add up to every event once")
        let states = (report["states"]?.arrayValue ?? []).compactMap { $0["state"]?.stringValue }
        #expect(states == ["connecting", "open"], "the page was disconnected instead of conflated: \(states)")
        #expect(report["duplicates"]?.arrayValue == [] && report["gaps"]?.arrayValue == [], "\(report)")
    }
}

extension JSONValue {
    /// The value when it is an integer.
    fileprivate var integer: Int64? {
        if case .int(let value) = self { value } else { nil }
    }
}
