import Foundation
import JSONSchema
import KafkaClient
import RedisTestSupport
@testable import SwitchyardBench
import Testing

/// `switchyard bench`: its argument checks, its accounting, and tiny real runs that must lose nothing.
@Suite struct BenchCommandTests {
    let cli = CLITests()

    @Test(arguments: [
        (["--publishers", "0"], "--publishers must be at least 1"),
        (["--rate", "0"], "--rate must be at least 1"),
        (["--batch", "0"], "--batch must be at least 1"),
        (["--duration", "0"], "--duration must be more than 0"),
        (["--duration", "2", "--warmup", "2"], "--warmup must be at least 0 and shorter than --duration"),
        (["--consumers", "0"], "--consumers must be at least 1"),
        (["--ws-clients=-1"], "--ws-clients must be at least 0"),
        (["--gateway", "ws://127.0.0.1:9/v1/ws", "--ws-clients", "1"], "--gateway needs --redis"),
        (["--redis", "redis://127.0.0.1:9", "--gateway", "http://127.0.0.1:9/v1/ws", "--ws-clients", "1"], "--gateway must be a ws://HOST:PORT/PATH URL"),
        (["--redis", "redis://127.0.0.1:9", "--gateway", "ws://127.0.0.1:9/v1/ws"], "--gateway is only used by WebSocket clients"),
        (["--server-pid", "2147483646"], "--server-pid 2147483646: no such process"),
        (["--acknowledge", "all"], "--acknowledge is primary or replicated"),
        (["--redis", "redis://127.0.0.1:9", "--kafka", "kafka://127.0.0.1:9"], "--redis and --kafka name two engines"),
        (["--keys", "3"], "--keys needs --kafka"),
        (["--kafka", "kafka://127.0.0.1:9", "--keys", "0"], "--keys must be at least 1"),
        (["--kafka", "kafka://127.0.0.1:9", "--acknowledge", "replicated"], "--acknowledge is for Redis"),
        (["--kafka", "kafka://127.0.0.1:9", "--gateway", "ws://127.0.0.1:9/v1/ws", "--ws-clients", "1"], "--gateway needs --redis"),
        (["--group-process"], "--group-process needs --redis"),
        (["--kafka", "kafka://127.0.0.1:9", "--group-process"], "--group-process needs --redis"),
        (["--redis", "redis://127.0.0.1:9", "--group-process", "--groups", "0"], "--group-process is only used by consumer groups"),
        (["--ws-process"], "--ws-process is only used by WebSocket clients"),
    ])
    func badArgumentsExitWithUsageAndSayWhy(arguments: [String], message: String) async throws {
        let result = try await cli.run(["bench"] + arguments)
        #expect(result.status == 64, "\(arguments): \(result.stderr)")
        #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test func aChannelPrefixWithoutAContractIsRefusedBeforeAnythingRuns() async throws {
        let result = try await cli.run(["bench", "--channel-prefix", "nothing.covers.this", "--duration", "1", "--warmup", "0"])
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains("no contract covers 'nothing.covers.this-1'"), "\(result.stderr)")
    }

    @Test func theLedgerCountsMissingDuplicateAndUnexpectedSequenceNumbers() {
        var acked = SequenceLedger()
        for sequence in 1...5 { acked.record(Int64(sequence), on: "a") }
        acked.record(1, on: "b")
        var seen = SequenceLedger()
        for sequence: Int64 in [1, 2, 2, 4, 5, 5, 5, 9] { seen.record(sequence, on: "a") }
        #expect(seen.count == 5)
        #expect(seen.duplicates == 3)
        #expect(seen.missing(of: acked) == 2, "3 on a and 1 on b")
        #expect(seen.unexpected(in: acked) == 1, "9 on a was never acknowledged")
    }

    @Test func aLedgerTravelsAsRunsOfSequenceNumbers() {
        var ledger = SequenceLedger()
        for sequence: Int64 in [1, 2, 3, 5, 7, 8, 3] { ledger.record(sequence, on: "a") }
        ledger.record(10, on: "b")
        #expect(ledger.ranges == ["a": [[1, 3], [5, 5], [7, 8]], "b": [[10, 10]]])
        let copy = SequenceLedger(ranges: ledger.ranges, duplicates: ledger.duplicates)
        #expect(copy.ranges == ledger.ranges)
        #expect(copy.count == 7)
        #expect(copy.duplicates == 1)
    }

    @Test func aLedgerFillsGapsOutOfOrderAndMergesRuns() {
        var ledger = SequenceLedger()
        for sequence: Int64 in [10, 1, 5, 3, 2, 4, 9, 7, 6, 8, 12, 20, 11] {
            let added = ledger.record(sequence, on: "a")
            #expect(added, "\(sequence) is new")
        }
        #expect(ledger.ranges == ["a": [[1, 12], [20, 20]]])
        #expect(ledger.count == 13)
        for sequence: Int64 in [1, 6, 12, 20] {
            let added = ledger.record(sequence, on: "a")
            #expect(!added, "\(sequence) was there")
        }
        #expect(ledger.duplicates == 4)
        let (zero, negative) = (ledger.record(0, on: "a"), ledger.record(-3, on: "a"))
        #expect(zero && negative)
        #expect(ledger.ranges == ["a": [[-3, -3], [0, 12], [20, 20]]])

        var expected = SequenceLedger()
        for sequence: Int64 in 1...25 { expected.record(sequence, on: "a") }
        expected.record(1, on: "b")
        #expect(ledger.missing(of: expected) == 13, "13 to 19 and 21 to 25 on a, 1 on b")
        #expect(ledger.unexpected(in: expected) == 2, "-3 and 0 were never acknowledged")

        var merged = SequenceLedger()
        merged.record(ledger)
        merged.record(expected)
        #expect(merged.ranges == ["a": [[-3, -3], [0, 25]], "b": [[1, 1]]])
        #expect(merged.count == 28)
        #expect(merged.duplicates == 13, "1 to 12 and 20 on a were in both")
    }

    @Test func latencyPercentilesAreNearestRankInMilliseconds() {
        let summary = LatencySummary(seconds: (1...1000).reversed().map { Double($0) / 1000 })
        #expect(summary.count == 1000)
        #expect(summary.p50 == 500)
        #expect(summary.p99 == 990)
        #expect(summary.p999 == 999)
        #expect(summary.max == 1000)
        #expect(LatencySummary(seconds: []).p50 == nil)
        #expect(LatencySummary(seconds: []).text == "no samples")
    }

    /// Runs a tiny benchmark and checks its JSON report's counts: every acknowledged event in every
    /// group and every WebSocket client, none twice.
    func tinyRun(_ extra: [String]) async throws -> JSONValue {
        let prefix = "price.updated.t\(UInt32.random(in: 0 ... .max))"
        let result = try await cli.run([
            "bench", "--publishers", "2", "--rate", "40", "--duration", "1", "--warmup", "0", "--groups", "2", "--consumers", "2",
            "--ws-clients", "3", "--channel-prefix", prefix, "--json",
        ] + extra)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let report = try JSONValue(parsing: Array(result.stdout.utf8))
        #expect(report["channels"]?.stringValue == "\(prefix)-*")
        #expect(report["publish"]?["sent"] == 80)
        #expect(report["publish"]?["acked"] == 80)
        #expect(report["publish"]?["refused"] == 0)
        let groups = report["groups"]?.arrayValue ?? []
        #expect(groups.count == 2)
        for group in groups {
            #expect(group["delivered"] == 80, "\(group)")
            #expect(group["missing"] == 0)
            #expect(group["duplicates"] == 0)
            #expect(group["unexpected"] == 0)
            #expect(group["latency"]?["count"] == 80)
        }
        let ws = report["websocket"]
        #expect(ws?["subscribed"] == 3)
        #expect(ws?["delivered"] == 240)
        #expect(ws?["missing"] == 0)
        #expect(ws?["duplicates"] == 0)
        #expect(ws?["gaps"] == 0)
        #expect((report["process"]?["rss_bytes"]?.doubleValue ?? 0) > 0)
        #expect((report["process"]?["cpu_microseconds_per_event"]?.doubleValue ?? 0) > 0, "the CPU while publishing, per acknowledged event")
        #expect(report["process"]?["cpu_percent_while_publishing"]?.doubleValue != nil)
        #expect(report["lost"] == 0)
        return report
    }

    @Test func aTinyEmbeddedRunLosesNothing() async throws {
        let report = try await tinyRun([])
        #expect(report["engine"] == "embedded")
        #expect(report["process"]?["role"]?.stringValue?.contains("gateway") == true)
    }

    @Test(.needs(.redis)) func aTinyRedisRunLosesNothingAndReadsTheRedisServer() async throws {
        let report = try await tinyRun(["--redis", try TestEnvironment.value("REDIS_URL")])
        #expect(report["engine"] == "redis")
        #expect(report["server"]?["command"]?.stringValue?.contains("redis") == true, "\(report["server"] ?? .null)")
    }

    /// The groups and the clients in processes of their own: they must get every acknowledged event
    /// as they do in the bench process, and each process's CPU per event is reported.
    @Test(.needs(.redis)) func aTinyRedisRunWithTheGroupsAndClientsInProcessesOfTheirOwnLosesNothing() async throws {
        let report = try await tinyRun(["--redis", try TestEnvironment.value("REDIS_URL"), "--group-process", "--ws-process"])
        let role = report["process"]?["role"]?.stringValue ?? ""
        #expect(role.contains("gateway") && !role.contains("consumers") && !role.contains("WebSocket clients"), "\(role)")
        #expect(report["group_process"]?["role"]?.stringValue?.hasPrefix("group process (2 groups of 2 consumers)") == true, "\(report)")
        #expect(report["websocket_process"]?["role"]?.stringValue?.hasPrefix("WebSocket client process (3 clients)") == true, "\(report)")
        var total = 0.0
        for key in ["process", "group_process", "websocket_process", "server"] {
            let process = report[key]
            #expect(process?["command"]?.stringValue != nil, "\(key): \(process ?? .null)")
            let cost = process?["cpu_microseconds_per_event"]?.doubleValue
            #expect(cost != nil, "\(key) has its CPU per event")
            total += cost ?? 0
        }
        #expect(Set(["process", "group_process", "websocket_process", "server"].compactMap { report[$0]?["pid"]?.doubleValue }).count == 4, "four processes")
        #expect(abs((report["total_cpu_microseconds_per_event"]?.doubleValue ?? -1) - total) < 0.001)
        #expect(report["websocket"]?["latency"]?["count"] == 240, "every client's latencies, measured in the worker")
    }

    @Test(.needs(.redis)) func thePlainTextReportNamesEveryProcessWithItsCostPerEvent() async throws {
        let result = try await cli.run([
            "bench", "--redis", try TestEnvironment.value("REDIS_URL"), "--publishers", "1", "--rate", "20", "--duration", "1", "--warmup", "0",
            "--consumers", "1", "--ws-clients", "1", "--group-process", "--ws-process", "--channel-prefix", "price.updated.p\(UInt32.random(in: 0 ... .max))",
        ])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        for part in [
            "group bench-", "delivered 20, missing 0", "websocket ws://127.0.0.1:", "1/1 subscribed, delivered 20, missing 0",
            "bench process (router, gateway) (pid", "group process (1 group of 1 consumer) (pid", "WebSocket client process (1 client) (pid",
            "redis-server (pid", "µs per event", "CPU per acknowledged event while publishing, these 4 processes together:", "lost: 0",
        ] {
            #expect(result.stdout.contains(part), "\(part): \(result.stdout)")
        }
        #expect(result.stderr.contains("the group process is ready"), "\(result.stderr)")
        #expect(result.stderr.contains("the WebSocket client process is ready: 1/1 WebSocket clients subscribed"), "\(result.stderr)")
    }

    /// The processes whose command line contains `text`.
    static func processes(containing text: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry in
            guard let pid = Int32(entry), pid != getpid(),
                  let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return nil }
            let line = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            return line.contains(text) ? pid : nil
        }
    }

    @Test(.needs(.redis)) func aWorkerThatCannotSetItsRoleUpEndsTheRunAndLeavesNoProcess() async throws {
        let prefix = "price.updated.f\(UInt32.random(in: 0 ... .max))"
        let result = try await cli.run([
            "bench", "--redis", try TestEnvironment.value("REDIS_URL"), "--gateway", "ws://127.0.0.1:9/v1/ws", "--ws-clients", "2",
            "--ws-process", "--group-process", "--publishers", "1", "--rate", "20", "--duration", "1", "--warmup", "0", "--channel-prefix", prefix,
        ])
        #expect(result.status == 2, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stderr.contains("error: the WebSocket client process (pid "), "\(result.stderr)")
        #expect(result.stderr.contains("failed before it was ready: could not connect to the gateway at ws://127.0.0.1:9/v1/ws"), "\(result.stderr)")
        #expect(result.stdout.isEmpty)
        #expect(Self.processes(containing: prefix).isEmpty, "no worker is left running")
    }

    @Test(.needs(.redis)) func aWorkerKilledDuringTheRunEndsItAndLeavesNoProcess() async throws {
        let prefix = "price.updated.k\(UInt32.random(in: 0 ... .max))"
        let url = try TestEnvironment.value("REDIS_URL")
        async let run = cli.run([
            "bench", "--redis", url, "--ws-clients", "2", "--ws-process", "--group-process", "--publishers", "1", "--rate", "20",
            "--duration", "120", "--warmup", "0", "--channel-prefix", prefix,
        ])
        var killed: Int32?
        let deadline = ContinuousClock.now + .seconds(110)
        while killed == nil, ContinuousClock.now < deadline {
            if let worker = Self.processes(containing: "websocket-clients").first(where: { Self.processes(containing: prefix).contains($0) }) {
                kill(worker, SIGKILL)
                killed = worker
            } else {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        let result = try await run
        let worker = try #require(killed, "the WebSocket client process was found")
        #expect(result.status == 2, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stderr.contains("error: the WebSocket client process (pid \(worker))"), "\(result.stderr)")
        #expect(result.stderr.contains("(killed by signal 9)"), "\(result.stderr)")
        #expect(Self.processes(containing: prefix).isEmpty, "no worker is left running")
    }

    @Test(.needs(.kafka)) func aTinyKafkaRunLosesNothingAndReadsTheBroker() async throws {
        let report = try await tinyRun([
            "--kafka", try TestEnvironment.value("KAFKA_URL"), "--server-pid", try TestEnvironment.value("KAFKA_SERVER_PID"),
        ])
        #expect(report["engine"] == "kafka")
        #expect(report["server"]?["role"] == "kafka broker")
        #expect(report["server"]?["command"]?.stringValue?.contains("tansu") == true, "\(report["server"] ?? .null)")
        #expect((report["server"]?["cpu_microseconds_per_event"]?.doubleValue ?? 0) > 0)
    }

    /// `--keys` on a channel of a keyed 6-partition topic: the records spread over partitions,
    /// each key in one partition in sequence order, and the group still gets every event.
    @Test(.needs(.kafka)) func aKafkaRunWithKeysSpreadsAKeyedTopicAndLosesNothing() async throws {
        let folder = NSTemporaryDirectory() + "bench-keyed-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try #"""
            {"channel": "bench.keyed.*", "schema": {"type": "object", "required": ["ticker", "price"],
              "properties": {"ticker": {"type": "string", "pattern": "^[A-Z]{1,5}$"}, "price": {"type": "number"}}},
             "policy": {"kafka": {"partitions": 6, "partition_key": "ticker"}},
             "examples": {"valid": [{"ticker": "AAPL", "price": 185.5}]}}
            """#.write(toFile: folder + "/keyed.json", atomically: true, encoding: .utf8)
        let prefix = "bench.keyed.k\(UInt32.random(in: 0 ... .max))"
        let url = try TestEnvironment.value("KAFKA_URL")
        let result = try await cli.run([
            "bench", "--kafka", url, "--contracts", folder, "--channel-prefix", prefix, "--keys", "6", "--publishers", "1", "--rate", "60",
            "--duration", "1", "--warmup", "0", "--groups", "1", "--consumers", "1", "--json",
        ])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let report = try JSONValue(parsing: Array(result.stdout.utf8))
        #expect(report["publish"]?["acked"] == 60)
        #expect(report["groups"]?.arrayValue?.first?["delivered"] == 60)
        #expect(report["lost"] == 0)

        let topic = "switchyard.\(prefix)-1"
        let reader = try KafkaConsumer(configuration: try KafkaConfiguration(url: url), groupID: nil)
        try reader.assign(Dictionary(uniqueKeysWithValues: (0..<6).map { (KafkaTopicPartition(topic: topic, partition: $0), KafkaConsumer.beginning) }))
        var records: [KafkaRecord] = []
        let deadline = ContinuousClock.now + .seconds(30)
        while records.count < 60, ContinuousClock.now < deadline {
            records += try await reader.poll(maxRecords: 100, timeout: .milliseconds(200))
        }
        await reader.close()
        #expect(records.count == 60)
        var partitionsOfKey: [String: Set<Int32>] = [:]
        var sequencesOfKey: [String: [Int64]] = [:]
        for record in records {
            let key = String(decoding: record.key ?? [], as: UTF8.self)
            let envelope = try JSONValue(parsing: record.value ?? [])
            #expect(envelope["data"]?["ticker"]?.stringValue == key)
            partitionsOfKey[key, default: []].insert(record.partition)
            if case .int(let sequence)? = envelope["sequence_number"] { sequencesOfKey[key, default: []].append(sequence) }
        }
        #expect(partitionsOfKey.keys.sorted() == ["A", "B", "C", "D", "E", "F"])
        #expect(partitionsOfKey.values.allSatisfy { $0.count == 1 }, "one partition per key: \(partitionsOfKey)")
        #expect(Set(partitionsOfKey.values.flatMap { $0 }).count > 1, "the keys spread over partitions: \(partitionsOfKey)")
        #expect(sequencesOfKey.values.allSatisfy { $0 == $0.sorted() && $0.count == 10 })
    }

    @Test(.needs(.sentinel)) func aTinyRunThroughSentinelWithReplicatedAcknowledgementsLosesNothing() async throws {
        let report = try await tinyRun(["--redis", try TestEnvironment.value("REDIS_SENTINEL_URL"), "--acknowledge", "replicated"])
        #expect(report["engine"] == "redis")
    }

    @Test(.needs(.cluster)) func aTinyRunOnAClusterLosesNothing() async throws {
        let report = try await tinyRun(["--redis", try TestEnvironment.value("REDIS_CLUSTER_URL")])
        #expect(report["engine"] == "redis")
    }

    @Test func aSweepRaisesTheRateUntilItsCeilingAndNamesTheRateThatHeld() async throws {
        let prefix = "price.updated.s\(UInt32.random(in: 0 ... .max))"
        let result = try await cli.run([
            "bench", "--publishers", "2", "--rate", "20", "--duration", "1", "--warmup", "0", "--groups", "1", "--consumers", "1",
            "--channel-prefix", prefix, "--sweep", "--sweep-step", "20", "--sweep-ceiling", "40", "--sweep-limit", "5000", "--json",
        ])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let sweep = try JSONValue(parsing: Array(result.stdout.utf8))
        let steps = sweep["steps"]?.arrayValue ?? []
        #expect(steps.map { $0["offered"] } == [40, 80])
        #expect(steps.map { $0["report"]?["publish"]?["acked"] } == [40, 80])
        #expect(steps.allSatisfy { $0["failure"] == nil && $0["report"]?["lost"] == 0 })
        #expect(sweep["held"] == 80 && sweep["limit_ms"] == 5000)
    }

    @Test func aStepThatLosesOrPassesTheLimitDoesNotHold() throws {
        func report(p99: Double, missing: Int = 0, throughput: Double = 100) -> BenchReport {
            let latency = LatencySummary(seconds: [p99 / 1000])
            return BenchReport(
                engine: "embedded",
                configuration: BenchConfiguration(target: .embedded, publishers: 1, ratePerPublisher: 100, seconds: 1),
                channels: "c-*",
                publish: PublishReport(sent: 100, acked: 100, refused: 0, throughput: throughput, latency: latency),
                groups: [GroupReport(group: "g", consumers: 1, delivered: 100 - missing, duplicates: 0, missing: missing, unexpected: 0, throughput: throughput, latency: latency)],
                webSocket: nil, process: nil, server: nil, loadAverage: [])
        }
        #expect(LoadGenerator.failure(of: report(p99: 40), offered: 100, limit: 100) == nil)
        #expect(LoadGenerator.failure(of: report(p99: 140), offered: 100, limit: 100) == "group g p99 140.0 ms")
        #expect(LoadGenerator.failure(of: report(p99: 40, missing: 3), offered: 100, limit: 100) == "3 acknowledged events lost")
        #expect(LoadGenerator.failure(of: report(p99: 40, throughput: 80), offered: 100, limit: 100) == "the publishers kept 80 of 100 events/s")
    }

    @Test func thePlainTextReportNamesEveryFigure() async throws {
        let result = try await cli.run(["bench", "--publishers", "1", "--rate", "20", "--duration", "1", "--warmup", "0", "--consumers", "1"])
        #expect(result.status == 0, "\(result.stderr)")
        for part in ["publish: sent 20, acked 20, refused 0", "missing 0, duplicates 0", "vs schedule p50", "p99.9", "CPU", "while publishing", "µs per event", "RSS", "load average", "lost: 0"] {
            #expect(result.stdout.contains(part), "\(part): \(result.stdout)")
        }
    }
}
