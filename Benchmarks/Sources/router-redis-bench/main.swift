import Foundation
import JSONSchema
import Logging
import RedisClient
import Switchyard
import SwitchyardRedis
import Synchronization

/// The router on the Redis engine, against the server at REDIS_URL, with the shipped contracts.
///
/// `router-redis-bench publish [events] [batch]`: validated, scripted publishes of `quotes.realtime`
/// from one task, in batches (one EVALSHA per batch), events/s. `publish-on-loop` does the same
/// on one of the Redis client's event loops (`withTaskExecutorPreference(client.taskExecutor())`).
/// `router-redis-bench consume [events] [batch]`: fills a channel, then one consumer process reads it
/// through a consumer group (batched XREADGROUP, handler, XACK), events/s.
/// `router-redis-bench latency [rate] [seconds]`: publishes on a fixed schedule while a consumer group
/// handles the events; latency is handler time minus scheduled send time (so a producer that falls
/// behind shows), p50/p99/p99.9/max. `latency-batch` publishes every event that is due in one
/// batch (up to 100), as a producer that keeps up with a high rate does.
@main
struct RouterRedisBench {
    static func main() async throws {
        let arguments = Array(CommandLine.arguments.dropFirst())
        let mode = arguments.first ?? "publish"
        func number(_ index: Int, _ fallback: Int) -> Int { arguments.count > index ? Int(arguments[index]) ?? fallback : fallback }
        guard let url = ProcessInfo.processInfo.environment["REDIS_URL"] else {
            print("set REDIS_URL (Benchmarks/run-router starts a server)")
            return
        }
        var logger = Logger(label: "router-redis-bench")
        logger.logLevel = .warning
        let client = try RedisClient(configuration: try RedisConfiguration(url: url), logger: logger)
        let engine = RedisEngine(client: client, logger: logger)
        let router = Router(
            contracts: try ContractRegistry.shipped(), engine: engine,
            configuration: RouterConfiguration(source: "bench", enforcesRateLimits: false), logger: logger)
        let channel = try ChannelName("quotes.realtime")
        let payload = try ContractRegistry.shipped().contract(for: channel)!.validExamples[0]
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await router.run() }
            _ = try await client.execute(GenericCommand("FLUSHALL"))
            switch mode {
            case "publish": try await publish(router, channel, payload, events: number(1, 200_000), batch: number(2, 100))
            case "publish-on-loop":
                try await withTaskExecutorPreference(client.taskExecutor()) {
                    try await publish(router, channel, payload, events: number(1, 200_000), batch: number(2, 100), label: mode)
                }
            case "consume": try await consume(router, channel, payload, events: number(1, 200_000), batch: number(2, 1000))
            case "latency": try await latency(router, channel, payload, rate: number(1, 1000), seconds: number(2, 10), batching: false)
            case "latency-batch": try await latency(router, channel, payload, rate: number(1, 10000), seconds: number(2, 5), batching: true)
            default: print("modes: publish, consume, latency")
            }
            group.cancelAll()
        }
    }

    static func publish(
        _ router: Router, _ channel: ChannelName, _ payload: JSONValue, events: Int, batch: Int, label: String = "publish"
    ) async throws {
        let requests = [PublishRequest](repeating: PublishRequest(channel: channel, payload: payload), count: batch)
        let started = ContinuousClock.now
        var published = 0
        while published < events {
            if batch == 1 {
                try await router.publish(to: channel, payload: payload)
            } else {
                try await router.publish(requests)
            }
            published += batch
        }
        let seconds = (ContinuousClock.now - started).seconds
        let last = try await router.info(channel).lastSequenceNumber
        print("\(label) batch=\(batch): \(published) events in \(format(seconds)) s = \(Int(Double(published) / seconds)) events/s (last sequence \(last))")
    }

    static func consume(_ router: Router, _ channel: ChannelName, _ payload: JSONValue, events: Int, batch: Int) async throws {
        let requests = [PublishRequest](repeating: PublishRequest(channel: channel, payload: payload), count: 500)
        for _ in 0..<(events / 500) { try await router.publish(requests) }
        let handled = Atomic<Int>(0)
        let started = ContinuousClock.now
        let options = ConsumerOptions(batchSize: batch, blockTimeout: .milliseconds(100), start: .beginning)
        try await router.withConsumer(group: "bench", patterns: [try ChannelPattern(channel.rawValue)], options: options, handler: { _ in
            handled.add(1, ordering: .relaxed)
        }) {
            while handled.load(ordering: .relaxed) < events { try await Task.sleep(for: .milliseconds(2)) }
        }
        let seconds = (ContinuousClock.now - started).seconds
        let pending = try await router.groupInfo("bench", on: channel).pending
        print("consume batch=\(batch): \(events) events in \(format(seconds)) s = \(Int(Double(events) / seconds)) events/s (pending after: \(pending))")
    }

    static func latency(_ router: Router, _ channel: ChannelName, _ payload: JSONValue, rate: Int, seconds: Int, batching: Bool) async throws {
        let total = rate * seconds
        let samples = Mutex<[Int64]>([])
        let origin = ContinuousClock.now
        let interval = Duration.nanoseconds(1_000_000_000 / rate)
        let options = ConsumerOptions(batchSize: 1000, blockTimeout: .milliseconds(100), start: .newest)
        try await router.withConsumer(group: "latency", patterns: [try ChannelPattern(channel.rawValue)], options: options, handler: { envelope in
            guard case .int(let scheduled)? = envelope.metadata["scheduled_ns"] else { return }
            let now = (ContinuousClock.now - origin).nanoseconds
            samples.withLock { $0.append(now - scheduled) }
        }) {
            let warmUp = Duration.milliseconds(300)
            var index = 0
            while index < total {
                let scheduled = warmUp + interval * index
                let wait = origin + scheduled - ContinuousClock.now
                if wait > .zero { try await Task.sleep(for: wait) }
                guard batching else {
                    try await router.publish(to: channel, payload: payload, metadata: ["scheduled_ns": .int(scheduled.nanoseconds)])
                    index += 1
                    continue
                }
                let elapsed = ContinuousClock.now - origin
                var batch: [PublishRequest] = []
                while index < total, batch.count < 100, warmUp + interval * index <= elapsed {
                    batch.append(PublishRequest(channel: channel, payload: payload, metadata: ["scheduled_ns": .int((warmUp + interval * index).nanoseconds)]))
                    index += 1
                }
                if batch.isEmpty {
                    batch.append(PublishRequest(channel: channel, payload: payload, metadata: ["scheduled_ns": .int(scheduled.nanoseconds)]))
                    index += 1
                }
                try await router.publish(batch)
            }
            let deadline = ContinuousClock.now + .seconds(10)
            while samples.withLock({ $0.count }) < total && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        }
        let sorted = samples.withLock { $0 }.sorted()
        func percentile(_ p: Double) -> String {
            guard !sorted.isEmpty else { return "-" }
            return format(Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]) / 1_000_000)
        }
        print("latency\(batching ? "-batch" : "") rate=\(rate)/s for \(seconds) s: \(sorted.count)/\(total) delivered; vs schedule p50 \(percentile(0.5)) ms, p99 \(percentile(0.99)) ms, p99.9 \(percentile(0.999)) ms, max \(format(Double(sorted.last ?? 0) / 1_000_000)) ms")
    }

    static func format(_ value: Double) -> String { String(format: "%.3f", value) }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
    var nanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
}
