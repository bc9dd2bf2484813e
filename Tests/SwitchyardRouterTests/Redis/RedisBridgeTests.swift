import Foundation
import JSONSchema
import Logging
import Metrics
import MetricsTestKit
import NIOCore
import RedisClient
import RedisTestSupport
import Switchyard
import SwitchyardRedis
import RedisTestSupport
import Testing

/// The bridge: unchanged plain-Redis publishers and subscribers next to Switchyard (docs/migration.md).
@Suite("Redis bridge", .needs(.redis, .python))
struct RedisBridgeTests {
    /// OPA's `quotes.realtime` schema (seed 003), on a payload-mode channel.
    static let quoteSchema: JSONValue = [
        "type": "object", "required": ["ticker", "timestamp", "price", "volume", "source"],
        "properties": [
            "ticker": ["type": "string", "pattern": "^[A-Z]{1,5}$"], "timestamp": ["type": "string", "format": "date-time"],
            "price": ["type": "number", "minimum": 0], "volume": ["type": "integer", "minimum": 0],
            "bid": ["type": "number"], "ask": ["type": "number"], "source": ["type": "string", "enum": ["yfinance", "alpaca", "polygon"]],
        ],
    ]
    static let quote: JSONValue = [
        "ticker": "AAPL", "timestamp": "2026-01-20T14:30:00Z", "price": 185.5, "volume": 45_000_000, "source": "yfinance",
    ]

    /// A router and engine over two contracts written here: `test:NS.quotes.realtime` in payload
    /// mode and `test:NS.plain.*` in envelope mode.
    struct Stack {
        let router: Router
        let engine: RedisEngine
        let bridge: RedisBridge
        let metrics: TestMetrics
        let quotes: ChannelName
        let plain: ChannelName

        init(clientName: String? = nil) {
            quotes = Fixtures.channel("test:quotes.realtime")
            plain = Fixtures.channel("test:plain.signals")
            let contracts = try! ContractRegistry([
                try! Contract(
                    channel: try! ChannelPattern(quotes.rawValue), schema: RedisBridgeTests.quoteSchema,
                    policy: ChannelPolicy(retentionSeconds: 60, liveMessage: .payload)),
                try! Contract(channel: Fixtures.pattern("test:plain.*"), schema: Fixtures.schema, policy: ChannelPolicy(retentionSeconds: 60)),
            ])
            engine = RedisTestServer.makeEngine(configuration: .init(), clientName: clientName)
            router = Router(
                contracts: contracts, engine: engine, configuration: RouterConfiguration(source: "tests", enforcesRateLimits: false),
                logger: Logger(label: "test.router"))
            metrics = TestMetrics()
            bridge = RedisBridge(router: router, engine: engine, logger: Logger(label: "test.bridge"), metricsFactory: metrics)
        }

        func count(_ outcome: RedisBridge.Outcome) -> Int64 {
            (try? metrics.expectCounter(SwitchyardMetrics.Name.bridgeMessages, [(SwitchyardMetrics.Label.result, outcome.rawValue)]).totalValue) ?? 0
        }
    }

    /// Runs `body` while the bridges take messages.
    static func running(_ bridges: RedisBridge..., body: () async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for bridge in bridges { group.addTask { try await bridge.run() } }
            defer { group.cancelAll() }
            for bridge in bridges {
                try #require(try await eventually { bridge.isSubscribed }, "the bridge subscribed")
            }
            try await body()
        }
    }

    static func publish(_ channel: ChannelName, _ text: String, with client: RedisClient) async throws {
        _ = try await client.execute(GenericCommand("PUBLISH", channel.rawValue, text))
    }

    static func streamLength(_ channel: ChannelName, _ client: RedisClient) async throws -> Int {
        try await client.execute(GenericCommand("XLEN", "stream:{\(channel.rawValue)}")).int ?? -1
    }

    @Test("a raw PUBLISH of plain JSON reaches a consumer group with an envelope and a sequence number, once")
    func plainPublishReachesGroup() async throws {
        try await EngineKind.redis.isolated {
            let stack = Stack()
            let check = try RedisTestServer.client()
            try await stack.engine.createGroup("risk", on: stack.plain, start: .beginning)
            try await Self.running(stack.bridge) {
                try await Self.publish(stack.plain, #"{"n": 7, "note": "from a plain publisher"}"#, with: check)
                let read = GroupReadRequest(group: "risk", consumer: "risk-1", channels: [stack.plain], count: 10, block: .seconds(1))
                var deliveries: [Delivery] = []
                #expect(try await eventually {
                    deliveries += try await stack.engine.readGroup(read)
                    return !deliveries.isEmpty
                })
                let envelope = try #require(deliveries.first?.envelope)
                #expect(envelope.channel == stack.plain && envelope.sequenceNumber == 1 && envelope.source == "bridge")
                #expect(envelope.data == ["n": 7, "note": "from a plain publisher"] && envelope.schema == "\(Fixtures.isolate("test:plain.*"))@1")
                // The store published the envelope on the channel: the bridge knows it as its own.
                #expect(try await eventually { stack.count(.skipped) == 1 })
                // A settle period: a second store, which must not happen, has no event to await.
                try await Task.sleep(for: .milliseconds(300))
                #expect(try await Self.streamLength(stack.plain, check) == 1)
                #expect(stack.count(.stored) == 1 && stack.count(.refused) == 0)
            }
        }
    }

    @Test("refused messages are dead-lettered with the validation_error shape and the message as it was, and counted")
    func refusedMessagesAreDeadLettered() async throws {
        try await EngineKind.redis.isolated {
            let stack = Stack()
            let check = try RedisTestServer.client()
            let texts = ["not json {", "[1, 2]", #"{"note": "n is missing"}"#, #"{"n": "seven"}"#]
            try await Self.running(stack.bridge) {
                for text in texts { try await Self.publish(stack.plain, text, with: check) }
                #expect(try await eventually { stack.count(.refused) == 4 })
            }
            let letters = try await stack.engine.deadLetters(stack.plain, limit: 10)
            try #require(letters.count == 4)
            for letter in letters {
                #expect(letter.group == "bridge" && letter.envelope.sequenceNumber == 0 && letter.deliveries == 0)
                #expect(letter.error["error_type"] == "validation_error")
                #expect(letter.error["details"]?["missing_fields"]?.arrayValue != nil && letter.error["details"]?["invalid_fields"]?.objectValue != nil)
                #expect(letter.envelope.metadata["refused_on"] == .string(stack.plain.rawValue))
            }
            #expect(letters[0].envelope.data == "not json {" && letters[0].error["message"] == "Invalid JSON")
            #expect(letters[1].envelope.data == [1, 2])
            #expect(letters[2].error["details"]?["missing_fields"] == ["n"])
            #expect(letters[3].error["details"]?["invalid_fields"]?["n"] != nil)
            // The dead-letter stream holds the original bytes.
            let raw = try await check.execute(GenericCommand("XRANGE", "dlq:{\(stack.plain.rawValue)}", "-", "+", "COUNT", "1"))
            #expect(raw.elements?.first?.elements?[1].elements?[1].string == "not json {")
            #expect(try await Self.streamLength(stack.plain, check) == 0)
            #expect(try await stack.engine.requeueDeadLetters(stack.plain, ids: letters.map(\.id)) == 0, "there is nothing to requeue")
        }
    }

    @Test("Switchyard's own publishes are not stored again, in envelope mode and in payload mode")
    func ownPublishesAreSkipped() async throws {
        try await EngineKind.redis.isolated {
            let stack = Stack()
            let check = try RedisTestServer.client()
            try await Self.running(stack.bridge) {
                try await stack.router.publish(to: stack.plain, payload: Fixtures.payload(1))
                try await stack.router.publish(to: stack.quotes, payload: Self.quote)
                #expect(try await eventually { stack.count(.skipped) == 2 })
                // A settle period: a second store, which must not happen, has no event to await.
                try await Task.sleep(for: .milliseconds(300))
            }
            #expect(try await Self.streamLength(stack.plain, check) == 1)
            #expect(try await Self.streamLength(stack.quotes, check) == 1)
            #expect(stack.count(.stored) == 0 && stack.count(.refused) == 0 && stack.count(.duplicate) == 0)
        }
    }

    @Test("two bridges on one Redis store each message once")
    func twoBridgesStoreOnce() async throws {
        try await EngineKind.redis.isolated {
            let first = Stack()
            let second = Stack()
            let check = try RedisTestServer.client()
            try await Self.running(first.bridge, second.bridge) {
                for n in 1...20 { try await Self.publish(first.plain, #"{"n": \#(n)}"#, with: check) }
                #expect(try await eventually { first.count(.stored) + second.count(.stored) == 20 })
                #expect(try await eventually { first.count(.duplicate) + second.count(.duplicate) == 20 })
                // A settle period: a second store, which must not happen, has no event to await.
                try await Task.sleep(for: .milliseconds(300))
            }
            let stored = try await first.engine.read(first.plain, from: .beginning, limit: 100).map(\.envelope)
            #expect(stored.map(\.sequenceNumber) == Array(1...20))
            let numbers = stored.compactMap { envelope -> Int? in
                if case .int(let n)? = envelope.data["n"] { return Int(n) }
                return nil
            }
            #expect(numbers.sorted() == Array(1...20))
        }
    }

    @Test("payload mode: a raw SUBSCRIBE gets the bare payload, the live feed gets envelopes without gaps, once each")
    func payloadMode() async throws {
        try await EngineKind.redis.isolated {
            let stack = Stack()
            let check = try RedisTestServer.client()
            let raw = stack.engine.client  // its subscriber runs with the engine
            let live = try await stack.engine.liveEvents(matching: [try ChannelPattern(stack.quotes.rawValue)])
            try await Self.running(stack.bridge) {
                try await withThrowingTaskGroup(of: [String].self) { group in
                    group.addTask {
                        try await raw.subscribe(to: [stack.quotes.rawValue]) { subscription in
                            var seen: [String] = []
                            for try await event in subscription {
                                if case .message(let message) = event { seen.append(String(buffer: message.payload)) }
                                if seen.count == 4 { break }
                            }
                            return seen
                        }
                    }
                    #expect(try await eventually {
                        (try await check.execute(GenericCommand("PUBSUB", "NUMSUB", stack.quotes.rawValue)).elements?.last?.int ?? 0) >= 1
                    })
                    // Three from Switchyard, one from an unchanged plain publisher.
                    var quote = Self.quote.objectValue!
                    quote["price"] = 185.5
                    try await stack.router.publish(to: stack.quotes, payload: .object(quote))
                    // A whole {topic, timestamp, data, metadata} message: its envelope has an event_time.
                    quote["price"] = 186.0
                    try await stack.router.publish(to: stack.quotes, payload: [
                        "topic": .string(stack.quotes.rawValue), "timestamp": "2026-01-20T14:30:00Z", "data": .object(quote), "metadata": [:],
                    ])
                    try await Self.publish(stack.quotes, #"{"ticker": "MSFT", "timestamp": "2026-01-20T14:30:01Z", "price": 410.25, "volume": 1000, "source": "alpaca"}"#, with: check)
                    #expect(try await eventually { stack.count(.stored) == 1 })
                    try await stack.router.publish(to: stack.quotes, payload: Self.quote)
                    group.addTask {
                        // The deadline for the subscriber, raced against it.
                        try await Task.sleep(for: .seconds(30))
                        return []
                    }
                    let seen = try await group.next() ?? []
                    group.cancelAll()
                    let tickers = try seen.map { try JSONValue(parsing: $0)["ticker"] }
                    #expect(tickers == ["AAPL", "AAPL", "MSFT", "AAPL"], "bare payloads, the plain publisher's once")
                    #expect(try JSONValue(parsing: seen[0]) == Self.quote)
                    #expect(try JSONValue(parsing: seen[1]) == .object(quote), "the bare data, after an event_time")
                }
                let envelopes = try await withTimeout(.seconds(30)) {
                    var envelopes: [Envelope] = []
                    for await envelope in live {
                        envelopes.append(envelope)
                        if envelopes.count == 4 { break }
                    }
                    return envelopes
                }
                try #require(envelopes.count == 4)
                #expect(envelopes.map(\.sequenceNumber) == [1, 2, 3, 4])
                #expect(envelopes.map(\.source) == ["tests", "tests", "bridge", "tests"])
                #expect(envelopes[2].data["ticker"] == "MSFT")
                #expect(envelopes[1].eventTime == "2026-01-20T14:30:00Z" && envelopes[1].data["price"] == 186.0)
                // A Router subscription from the start replays and follows with the same envelopes.
                let (router, quotes) = (stack.router, stack.quotes)
                let followed = try await withTimeout(.seconds(30)) {
                    var subscription = router.subscribe([try ChannelPattern(quotes.rawValue)], from: [quotes: 1]).makeAsyncIterator()
                    var followed: [Int64] = []
                    while followed.count < 4, let next = try await subscription.next() { followed.append(next.sequenceNumber) }
                    return followed
                }
                #expect(followed == [1, 2, 3, 4])
            }
            #expect(stack.count(.skipped) == 3 && stack.count(.stored) == 1)
            #expect(try await Self.streamLength(stack.quotes, check) == 4)
        }
    }

    @Test("the bridge subscribes again after its connection is killed, and stores what comes after")
    func survivesReconnect() async throws {
        try await EngineKind.redis.isolated {
            let name = "bridge-reconnect-\(UInt32.random(in: .min ... .max))"
            let stack = Stack(clientName: name)
            let check = try RedisTestServer.client()
            try await Self.running(stack.bridge) {
                try await Self.publish(stack.plain, #"{"n": 1}"#, with: check)
                #expect(try await eventually { stack.count(.stored) == 1 })
                let clients = try await check.execute(GenericCommand("CLIENT", "LIST")).string ?? ""
                let ids = clients.split(separator: "\n").filter { $0.contains("name=\(name) ") && !$0.contains(" psub=0 ") }
                    .compactMap { line in line.split(separator: " ").first { $0.hasPrefix("id=") }.map { String($0.dropFirst(3)) } }
                try #require(!ids.isEmpty, "the bridge's subscriber connection is listed")
                for id in ids { _ = try await check.execute(GenericCommand("CLIENT", "KILL", "ID", id)) }
                var n = 1
                // Pub/Sub keeps nothing: publish again at each look until the resubscribed bridge stores one.
                #expect(try await eventually(timeout: .seconds(30), every: .milliseconds(100)) {
                    n += 1
                    try await Self.publish(stack.plain, #"{"n": \#(n)}"#, with: check)
                    return stack.count(.stored) >= 2
                })
            }
            let stored = try await stack.engine.read(stack.plain, from: .beginning, limit: 100).map(\.envelope)
            #expect(stored.first?.data["n"] == 1 && stored.count >= 2)
        }
    }
    /// Starts docs/examples/opa_quotes_integration.py (seed 003's integration test) with the test virtualenv's Python.
    static func startSeed003(mode: String, channel: ChannelName) throws -> (Process, Pipe, Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            PythonInteropTests.python, PythonInteropTests.root.appendingPathComponent("docs/examples/opa_quotes_integration.py").path,
            "--url", try RedisTestServer.requireURL(), "--channel", channel.rawValue, "--mode", mode,
        ]
        let (output, errors) = (Pipe(), Pipe())
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        return (process, output, errors)
    }

    static func finish(_ started: (Process, Pipe, Pipe)) async throws -> JSONValue {
        let (process, output, errors) = started
        let (out, err) = try await blocking {
            let out = output.fileHandleForReading.readDataToEndOfFile()
            let err = errors.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (out, err)
        }
        try #require(process.terminationStatus == 0, "seed 003's test failed: \(String(decoding: err, as: UTF8.self))")
        return try JSONValue(parsing: String(decoding: out, as: UTF8.self))
    }

    @Test("seed 003's integration test (redis-py) passes against Switchyard as written, its plain publish stored once")
    func seed003IntegrationTest() async throws {
        let probe = try await PythonInteropTests.run(["-c", "import redis"])
        try #require(probe.status == 0, "redis-py is missing for '\(PythonInteropTests.python)': run through scripts/test or set SWITCHYARD_PYTHON")
        try await EngineKind.redis.isolated {
            let stack = Stack()
            let check = try RedisTestServer.client()
            try await Self.running(stack.bridge) {
                // As written: the test publishes with a plain PUBLISH and reads its own quote, once.
                let own = try await Self.finish(try Self.startSeed003(mode: "self", channel: stack.quotes))
                #expect(own["ticker"] == "AAPL" && own["extra"] == [])
                #expect(try await eventually { stack.count(.stored) == 1 })
                let stored = try await stack.engine.read(stack.quotes, from: .beginning, limit: 10).map(\.envelope)
                #expect(stored.count == 1 && stored.first?.source == "bridge" && stored.first?.data["ticker"] == "AAPL")

                // Switchyard publishes: the unchanged subscriber reads the bare payload.
                let waiting = try Self.startSeed003(mode: "wait", channel: stack.quotes)
                #expect(try await eventually {
                    (try await check.execute(GenericCommand("PUBSUB", "NUMSUB", stack.quotes.rawValue)).elements?.last?.int ?? 0) >= 1
                })
                var quote = Self.quote.objectValue!
                quote["ticker"] = "MSFT"
                try await stack.router.publish(to: stack.quotes, payload: .object(quote))
                let report = try await Self.finish(waiting)
                #expect(report["ticker"] == "MSFT" && report["received"] == .object(quote) && report["extra"] == [])
            }
            #expect(try await Self.streamLength(stack.quotes, check) == 2)
            #expect(stack.count(.skipped) == 1, "the router's own payload was marked and skipped")
        }
    }
}
