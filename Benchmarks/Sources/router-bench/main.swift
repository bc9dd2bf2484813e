import JSONSchema
import Logging
import Switchyard
import Synchronization
import Foundation

/// Publishes events through the embedded backtest path and reports events per second.
///
/// `router-bench [count] [contract] [contracts-dir] [--events-per-ms N] [--ms-per-event M] [--batch N] [--breakdown] [--engine-only] [--bus]`: `contract` is
/// `shipped` (market_data:btc_price, the shipped contract with enums, a date-time format and
/// `additionalProperties: false`), `position` (position:updated, the backtester's shipped contract)
/// or `minimal`. `--bus` times the synchronous ``BacktestBus`` instead of a backtest ``Router``. The backtest clock moves 1 ms every N events
/// (default 1: a 1,000 events/s feed replayed, so retention and the dedup window turn over);
/// `--ms-per-event M` moves it M ms per event instead. `--engine-only` times the engine's append
/// alone (`BENCH_WINDOW_MS` sets its retention and dedup window, default 300,000).
/// The value after `--name`, if given.
func option(_ name: String) -> String? {
    CommandLine.arguments.firstIndex(of: name).flatMap { $0 + 1 < CommandLine.arguments.count ? CommandLine.arguments[$0 + 1] : nil }
}

let valued: Set<String> = ["--events-per-ms", "--ms-per-event", "--batch"]
var positional: [String] = []
var skipNext = false
for argument in CommandLine.arguments.dropFirst() {
    if skipNext {
        skipNext = false
    } else if valued.contains(argument) {
        skipNext = true
    } else if !argument.hasPrefix("--") {
        positional.append(argument)
    }
}
let count = positional.first.flatMap { Int($0) } ?? 1_000_000
let contractKind = positional.dropFirst().first ?? "shipped"
let contractsDirectory = positional.dropFirst(2).first
let batchSize = option("--batch").flatMap { Int($0) } ?? 1
let millisecondsPerEvent = option("--ms-per-event").flatMap { Int64($0) } ?? 1
let eventsPerMillisecond = option("--events-per-ms").flatMap { Int($0) } ?? 1

let logger = Logger(label: "router-bench")
let clock = ManualClock()
let channel: ChannelName
let contracts: ContractRegistry
let payloads: [JSONValue]
switch contractKind {
case "minimal":
    channel = try ChannelName("bench:ticks")
    let schema: JSONValue = ["type": "object", "required": ["price"], "properties": ["price": ["type": "number"]]]
    contracts = try ContractRegistry([try Contract(channel: try ChannelPattern("bench:*"), schema: schema, policy: ChannelPolicy(retentionSeconds: 300))])
    payloads = (0..<1024).map { ["price": .double(100 + Double($0) / 100)] }
case "position":
    channel = try ChannelName("position:updated")
    contracts = try contractsDirectory.map { try ContractRegistry.load(from: $0) } ?? ContractRegistry.shipped()
    payloads = (0..<1024).map {
        ["timestamp": "2024-05-12T14:00:00Z", "component": "position_monitor", "event": "updated",
         "metadata": ["trigger": "GAS_FEE_PAID", "changes_count": .int(Int64($0))]]
    }
default:
    channel = try ChannelName("market_data:btc_price")
    contracts = try contractsDirectory.map { try ContractRegistry.load(from: $0) } ?? ContractRegistry.shipped()
    payloads = (0..<1024).map {
        ["symbol": "BTC-USD", "price": .double(104_000 + Double($0) / 4), "source": "coinbase", "timestamp": "2026-01-27T10:30:00.250Z"]
    }
}

let engine = EmbeddedEngine(clock: clock, logger: logger)
let router = Router(
    contracts: contracts, engine: engine,
    configuration: RouterConfiguration(source: "router-bench", mode: .backtest, enforcesRateLimits: false, eventIDs: .seeded(7), clock: clock),
    logger: logger)

final class Tally: Sendable {
    let sum = Mutex<Double>(0)
}

/// The publishing loop, off the main actor: backtest publishes run on the caller's executor
/// without a hop, so the caller must not be an actor that every call would hop back to.
enum Bench {
    nonisolated static func run(router: Router, clock: ManualClock, channel: ChannelName, payloads: [JSONValue], count: Int, eventsPerMillisecond: Int, millisecondsPerEvent: Int64, batchSize: Int, tally: Tally) async throws {
        try await router.withConsumer(group: "strategy", patterns: [try ChannelPattern("*")], handler: { envelope in
            tally.sum.withLock { $0 += envelope.data["price"]?.doubleValue ?? 0 }
        }) {
            if batchSize > 1 {
                var index = 0
                while index < count {
                    let batch = (index..<min(count, index + batchSize)).map { PublishRequest(channel: channel, payload: payloads[$0 & 1023]) }
                    try await router.publish(batch)
                    index += batch.count
                    clock.advance(by: .milliseconds(Int64(batch.count / max(1, eventsPerMillisecond))))
                }
                return
            }
            for index in 0..<count {
                try await router.publish(to: channel, payload: payloads[index & 1023])
                if (index + 1) % eventsPerMillisecond == 0 { clock.advance(by: .milliseconds(millisecondsPerEvent)) }
            }
        }
    }
}

/// Appends straight to the engine, advancing the clock 1 ms per event: the engine's share alone.
enum EngineOnly {
    nonisolated static func run(channel: ChannelName, payloads: [JSONValue], count: Int) async throws {
        let clock = ManualClock()
        let engine = EmbeddedEngine(clock: clock, logger: Logger(label: "engine-only"))
        let window = Int(ProcessInfo.processInfo.environment["BENCH_WINDOW_MS"] ?? "") ?? 300_000
        let rules = AppendRules(retention: .milliseconds(window), dedupWindow: .milliseconds(window), rateLimit: nil)
        let ids = (0..<count).map { _ in EventID.generate() }
        let start = ContinuousClock.now
        for index in 0..<count {
            _ = try engine.appendNow([
                AppendRequest(eventID: ids[index], channel: channel, timestamp: clock.now(), source: "bench", schema: "s", data: payloads[index & 1023], rules: rules)
            ])
            clock.advance(by: .milliseconds(1))
        }
        let elapsed = ContinuousClock.now - start
        let nanoseconds = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
        print("engine only: \(String(format: "%.0f", nanoseconds / Double(count))) ns/event")
    }
}

/// The synchronous backtest path: ``BacktestBus``, a handler called inline, the clock moved as above.
enum Bus {
    nonisolated static func run(contracts: ContractRegistry, channel: ChannelName, payloads: [JSONValue], count: Int, eventsPerMillisecond: Int, millisecondsPerEvent: Int64) throws -> (Int64, Double) {
        let bus = BacktestBus(contracts: contracts, configuration: .init(source: "router-bench", seed: 7))
        var handled: Int64 = 0
        bus.subscribe(try ChannelPattern("*")) { envelope in
            handled &+= envelope.sequenceNumber
        }
        let start = ContinuousClock.now
        for index in 0..<count {
            try bus.publish(to: channel, payload: payloads[index & 1023])
            if (index + 1) % eventsPerMillisecond == 0 { bus.advance(by: .milliseconds(millisecondsPerEvent)) }
        }
        let elapsed = ContinuousClock.now - start
        return (handled, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }
}

if CommandLine.arguments.contains("--bus") {
    let (handled, seconds) = try Bus.run(
        contracts: contracts, channel: channel, payloads: payloads, count: count, eventsPerMillisecond: eventsPerMillisecond,
        millisecondsPerEvent: millisecondsPerEvent)
    print("BacktestBus, contract: \(contractKind) (\(channel)), events: \(count), handler checksum: \(handled)")
    print("elapsed: \(String(format: "%.3f", seconds)) s, throughput: \(Int(Double(count) / seconds)) events/s")
    exit(0)
}

if CommandLine.arguments.contains("--engine-only") {
    try await EngineOnly.run(channel: channel, payloads: payloads, count: count)
    exit(0)
}

let tally = Tally()
let start = ContinuousClock.now
try await Bench.run(router: router, clock: clock, channel: channel, payloads: payloads, count: count, eventsPerMillisecond: eventsPerMillisecond, millisecondsPerEvent: millisecondsPerEvent, batchSize: batchSize, tally: tally)
let elapsed = ContinuousClock.now - start
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
let info = try await router.info(channel)
print("contract: \(contractKind) (\(channel)), events: \(count), clock: \(millisecondsPerEvent) ms per \(eventsPerMillisecond) events, batch: \(batchSize), handler checksum: \(tally.sum.withLock { $0 })")
print("stream: length \(info.length), last sequence \(info.lastSequenceNumber)")
print("elapsed: \(String(format: "%.3f", seconds)) s, throughput: \(Int(Double(count) / seconds)) events/s")

/// Times each stage alone on the same payloads, to show where a publish's time goes.
enum Breakdown {
    nonisolated static func run(contracts: ContractRegistry, channel: ChannelName, payloads: [JSONValue], count: Int) async throws {
        func time(_ label: String, _ body: () throws -> Void) rethrows {
            let start = ContinuousClock.now
            try body()
            let elapsed = ContinuousClock.now - start
            let nanoseconds = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
            print("  \(label): \(String(format: "%.0f", nanoseconds / Double(count))) ns/event")
        }
        let payloadGuard = PayloadGuard(registry: contracts)
        try time("PayloadGuard.check") {
            for index in 0..<count { _ = try payloadGuard.check(channel: channel, payload: payloads[index & 1023]) }
        }
        time("JSONValue.serialized") {
            for index in 0..<count { _ = payloads[index & 1023].serialized().utf8.count }
        }
        let clock = ManualClock()
        let engine = EmbeddedEngine(clock: clock, logger: Logger(label: "breakdown"))
        var ids = (0..<count).map { _ in EventID.generate() }
        let rules = AppendRules(retention: .seconds(300), dedupWindow: .seconds(300), rateLimit: nil)
        try time("EmbeddedEngine.appendNow") {
            for index in 0..<count {
                _ = try engine.appendNow([
                    AppendRequest(eventID: ids[index], channel: channel, timestamp: clock.now(), source: "bench", schema: "s", data: payloads[index & 1023], rules: rules)
                ])
            }
        }
        time("EventID.generate") {
            for index in 0..<count { ids[index] = EventID.generate() }
        }
    }
}

if CommandLine.arguments.contains("--breakdown") {
    print("breakdown:")
    try await Breakdown.run(contracts: contracts, channel: channel, payloads: payloads, count: count)
}
