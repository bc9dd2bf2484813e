import Foundation
import JSONSchema
import RedisTestSupport
import Switchyard
import SwitchyardRedis
import RedisTestSupport
import Testing

/// Runs docs/examples/publish_consume.py (redis-py) against the test server, next to the Swift router.
@Suite("Redis engine: Python interop", .needs(.redis, .python))
struct PythonInteropTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `SWITCHYARD_PYTHON`, else `python3`.
    static var python: String { ProcessInfo.processInfo.environment["SWITCHYARD_PYTHON"] ?? "python3" }

    static func run(_ arguments: [String], stdin: String? = nil) async throws -> (status: Int32, output: String, errors: String) {
        let result = try await runProgram("/usr/bin/env", [python] + arguments, stdin: stdin)
        return (result.status, result.stdout, result.stderr)
    }

    /// The engines the example runs against: the Redis server, and the cluster with redis-py's `RedisCluster`.
    static let kinds: [EngineKind] = [.redis] + (TestServer.areRequired || TestServer.cluster.isConfigured ? [.cluster] : [])

    @Test("the Python example publishes through publish.lua and consumes with XREADGROUP, interleaved with Swift", arguments: kinds)
    func pythonExample(kind: EngineKind) async throws {
        let probe = try await Self.run(["-c", "import redis"])
        try #require(
            probe.status == 0,
            "redis-py is missing for '\(Self.python)': install it (`\(Self.python) -m pip install redis`) or set SWITCHYARD_PYTHON to a Python that has it")
        try await kind.isolated {
            let url = kind.description == "cluster" ? try TestEnvironment.value("REDIS_CLUSTER_URL") : try RedisTestServer.requireURL()
            let (router, engine) = redisRouter(url: url)
            let channel = Fixtures.channel("test:interop")
            let swift = try await router.publish((1...3).map { PublishRequest(channel: channel, payload: Fixtures.payload($0)) })
            let result = try await Self.run([
                Self.root.appendingPathComponent("docs/examples/publish_consume.py").path,
                "--url", url, "--channel", channel.rawValue,
                "--publish-lua", Self.root.appendingPathComponent("Sources/SwitchyardRedis/Resources/publish.lua").path,
            ] + (kind.description == "cluster" ? ["--cluster"] : []))
            try #require(result.status == 0, "the Python example failed: \(result.errors)")
            let report = try JSONValue(parsing: result.output)
            #expect(report["published"]?.arrayValue?.map { $0["sequence_number"] } == [4, 5])
            #expect(report["republished"]?["stored"] == false && report["republished"]?["sequence_number"] == 4)
            let consumed = try (report["consumed"]?.arrayValue ?? []).map { try Envelope(json: $0) }
            #expect(consumed.map(\.sequenceNumber) == [1, 2, 3, 4, 5])
            #expect(Array(consumed.prefix(3).map(\.eventID)) == swift.map(\.eventID))

            let stored = try await engine.read(channel, from: .beginning, limit: 10).map(\.envelope)
            #expect(stored == consumed, "Python reads exactly what Swift stored, and the other way round")
            #expect(stored.last?.source == "python-example" && stored.last?.data["n"] == 101)
            #expect(try await router.latest(channel)?.sequenceNumber == 5)
            let next = try await router.publish(to: channel, payload: Fixtures.payload(6))
            #expect(next.sequenceNumber == 6)
        }
    }
}
