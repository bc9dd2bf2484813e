import Foundation
import JSONSchema
import RedisTestSupport
import Testing

/// `switchyard serve --otlp-endpoint`: spans and metrics reach a real OTLP/HTTP receiver
/// (`scripts/otlp-receiver.py`, which decodes them with the OpenTelemetry project's
/// `opentelemetry-proto`), and one trace runs from a Python publisher through the gateway's publish
/// into the demo stack's consumer groups.
@Suite(.needs(.python)) struct OTLPExportTests {
    static var python: String { ProcessInfo.processInfo.environment["SWITCHYARD_PYTHON"] ?? "python3" }

    /// Starts the receiver on a free port; returns it and the file it writes.
    static func receiver() async throws -> (Process, port: Int, out: String) {
        let port = try ClientCommandTests.freePort()
        let out = NSTemporaryDirectory() + "otlp-\(UUID().uuidString).jsonl"
        FileManager.default.createFile(atPath: out, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, ConsoleBrowserTests.root.appendingPathComponent("scripts/otlp-receiver.py").path,
                             "--port", String(port), "--out", out]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let started = try await eventually(timeout: .seconds(20), every: .milliseconds(100)) {
            acceptsConnections(port: port) || !process.isRunning
        }
        try #require(started && process.isRunning, "the OTLP receiver did not start (is opentelemetry-proto installed?)")
        return (process, port, out)
    }

    static func records(_ path: String) -> [JSONValue] {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONValue(parsing: String($0)) }
    }

    @Test(.timeLimit(.minutes(3)))
    func aTraceRunsFromAPythonPublisherThroughThePublishIntoTheConsumerGroups() async throws {
        let (receiver, otlpPort, out) = try await Self.receiver()
        defer { receiver.terminate() }
        let port = try ClientCommandTests.freePort()
        let server = Process()
        server.executableURL = URL(fileURLWithPath: CLITests.binary)
        server.arguments = ["serve", "--demo", "--demo-seed", "3", "--port", String(port), "--otlp-endpoint", "http://127.0.0.1:\(otlpPort)"]
        server.environment = ProcessInfo.processInfo.environment.filter { !["REDIS_URL", "POSTGRES_URL", "SWITCHYARD_CONFIG"].contains($0.key) }
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { server.terminate() }
        try #require(try await ClientCommandTests.answersHealth("http://127.0.0.1:\(port)", while: server), "serve did not come up")

        // The Python publisher: its own span context in the traceparent header of an HTTP publish.
        let publish = """
            import json, secrets, sys, urllib.request
            trace, parent = secrets.token_hex(16), secrets.token_hex(8)
            fill = {"order_id": "ord_otlp", "fill_id": "fill_otlp", "filled_quantity": 1, "filled_price": 0.5,
                    "fill_time": "2026-01-27T10:30:03Z", "commission": 0.01}
            request = urllib.request.Request(sys.argv[1] + "/v1/channels/trades:order_filled/events", json.dumps(fill).encode(),
                                             {"Content-Type": "application/json", "traceparent": f"00-{trace}-{parent}-01"})
            receipt = json.load(urllib.request.urlopen(request))
            print(json.dumps({"trace": trace, "parent": parent, "event_id": receipt["event_id"]}))
            """
        let published = try await runProgram("/usr/bin/env", [Self.python, "-c", publish, "http://127.0.0.1:\(port)"])
        try #require(published.status == 0, "the Python publisher failed: \(published.stderr)")
        let sent = try JSONValue(parsing: published.stdout)
        let trace = try #require(sent["trace"]?.stringValue)
        let parent = try #require(sent["parent"]?.stringValue)

        var spans: [JSONValue] = []
        let arrived = try await eventually(timeout: .seconds(60), every: .milliseconds(250)) {
            spans = Self.records(out).filter { $0["signal"] == "span" && $0["trace_id"]?.stringValue == trace }
            let groups = Set(spans.filter { $0["name"] == "switchyard.deliver" }.compactMap { $0["attributes"]?["messaging.consumer.group.name"]?.stringValue })
            return groups.isSuperset(of: ["ledger", "risk"])
        }
        #expect(arrived, "spans of the trace: \(spans.map { $0.serialized() })")
        let publishSpan = try #require(spans.first { $0["name"] == "switchyard.publish" }, "\(spans.map { $0.serialized() })")
        #expect(publishSpan["parent_span_id"]?.stringValue == parent, "the publish span continues the Python publisher's span")
        #expect(publishSpan["service"] == "switchyard-gateway", "the resource names the serving process")
        #expect(publishSpan["attributes"]?["messaging.destination.name"] == "trades:order_filled")
        #expect(publishSpan["attributes"]?["messaging.message.id"] == sent["event_id"])
        for deliver in spans where deliver["name"] == "switchyard.deliver" {
            #expect(deliver["parent_span_id"] == publishSpan["span_id"], "each delivery is a child of the publish: \(deliver.serialized())")
        }

        // The stored envelope carries the publish span's context, for consumers in any language.
        let replay = try await runProgram("/usr/bin/env", [Self.python, "-c", """
            import json, sys, urllib.request
            events = json.load(urllib.request.urlopen(sys.argv[1] + "/v1/replay?channel=trades:order_filled&limit=1000"))["events"]
            print(json.dumps([e["metadata"].get("traceparent") for e in events if e["event_id"] == sys.argv[2]]))
            """, "http://127.0.0.1:\(port)", sent["event_id"]?.stringValue ?? ""])
        let traceparents = try JSONValue(parsing: replay.stdout).arrayValue ?? []
        let spanID = publishSpan["span_id"]?.stringValue ?? "?"
        #expect(traceparents.first?.stringValue?.hasPrefix("00-\(trace)-\(spanID)-") == true, "\(traceparents)")

        let metricsArrived = try await eventually(timeout: .seconds(40), every: .milliseconds(500)) {
            Self.records(out).contains { $0["signal"] == "metric" && $0["name"]?.stringValue?.hasPrefix("switchyard_") == true }
        }
        #expect(metricsArrived, "the metrics reach the receiver too")
    }

    @Test(.needs(.redis, .postgres), .timeLimit(.minutes(3)), arguments: ["serve", "relay"])
    func anOutboxRowsTraceRunsThroughTheRelayAndThePublish(command: String) async throws {
        let (receiver, otlpPort, out) = try await Self.receiver()
        defer { receiver.terminate() }
        // A database of this test's own: serve migrates it and runs the relay on its outbox.
        let database = "otlp_\(UInt32.random(in: .min ... .max))"
        let admin = try TestEnvironment.value("POSTGRES_URL")
        let created = try await runProgram("/usr/bin/env", [Self.python, "-c", """
            import sys, psycopg
            with psycopg.connect(sys.argv[1], autocommit=True) as conn:
                conn.execute(f"CREATE DATABASE {sys.argv[2]}")
            """, admin, database])
        try #require(created.status == 0, "\(created.stderr)")
        let url = admin.replacingOccurrences(of: "/switchyard_test", with: "/\(database)")
        let port = try ClientCommandTests.freePort()
        let server = Process()
        server.executableURL = URL(fileURLWithPath: CLITests.binary)
        let endpoint = ["--redis", try TestEnvironment.value("REDIS_URL"), "--postgres", url, "--otlp-endpoint", "http://127.0.0.1:\(otlpPort)"]
        // `serve --postgres` runs the relay inside the server; `switchyard relay` runs it alone (on a migrated database).
        if command == "relay" {
            let migrated = try await runProgram(CLITests.binary, ["migrate", "--postgres", url])
            try #require(migrated.status == 0, "\(migrated.stderr)")
        }
        server.arguments = command == "serve" ? ["serve", "--port", String(port)] + endpoint : ["relay"] + endpoint
        server.environment = ProcessInfo.processInfo.environment.filter { !["SWITCHYARD_CONFIG"].contains($0.key) }
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { server.terminate() }
        if command == "serve" {
            try #require(try await ClientCommandTests.answersHealth("http://127.0.0.1:\(port)", while: server), "serve did not come up")
        }

        let emit = """
            import json, secrets, sys, psycopg
            from switchyard.outbox import emit
            trace, parent = secrets.token_hex(16), secrets.token_hex(8)
            with psycopg.connect(sys.argv[1]) as conn:
                with conn.transaction():
                    event_id = emit(conn, "trades:order_filled", {"order_id": "ord_relay", "filled_quantity": 1},
                                    metadata={"traceparent": f"00-{trace}-{parent}-01"})
            print(json.dumps({"trace": trace, "parent": parent, "event_id": event_id}))
            """
        let emitted = try await runProgram("/usr/bin/env", [Self.python, "-c", emit, url])
        try #require(emitted.status == 0, "the Python writer failed: \(emitted.stderr)")
        let sent = try JSONValue(parsing: emitted.stdout)
        let trace = try #require(sent["trace"]?.stringValue)
        var spans: [JSONValue] = []
        let arrived = try await eventually(timeout: .seconds(60), every: .milliseconds(250)) {
            spans = Self.records(out).filter { $0["signal"] == "span" && $0["trace_id"]?.stringValue == trace }
            return Set(spans.compactMap { $0["name"]?.stringValue }).isSuperset(of: ["switchyard.relay", "switchyard.publish"])
        }
        #expect(arrived, "spans of the trace: \(spans.map { $0.serialized() })")
        let relay = try #require(spans.first { $0["name"] == "switchyard.relay" })
        #expect(relay["parent_span_id"] == sent["parent"], "the relay span continues the writer's span")
        #expect(relay["attributes"]?["messaging.message.id"] == sent["event_id"])
        let publish = try #require(spans.first { $0["name"] == "switchyard.publish" })
        #expect(publish["attributes"]?["messaging.message.id"] == sent["event_id"])
    }

    @Test func aMalformedEndpointIsRefusedNamingTheSetting() async throws {
        let result = try await CLITests().run(["serve", "--port", "0", "--otlp-endpoint", "collector:4318"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("otlp_endpoint") && result.stderr.contains("http://127.0.0.1:4318"), "\(result.stderr)")
    }
}
