// Release-mode measurements that ordo-one/benchmark does not express well: ops/s of sequential
// and pipelined commands, and the latency from XADD to a consumer blocked in XREADGROUP.
//
//   swift run -c release RedisLatencyBench [--takeover]
//
// Reads REDIS_URL. With --takeover, NIO's event loops also serve as Swift Concurrency's global executor.
import Foundation
import Logging
import NIOCore
import NIOPosix
import RESP
import RedisClient

let takeover = CommandLine.arguments.contains("--takeover")
if takeover {
    precondition(NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor())
}

guard let url = ProcessInfo.processInfo.environment["REDIS_URL"] else {
    fatalError("REDIS_URL is not set")
}
let configuration = try RedisConfiguration(url: url)
let logger = Logger(label: "bench")
let loop = MultiThreadedEventLoopGroup.singleton.next()
let payload = ByteBuffer(string: "v")

func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

func report(_ name: String, operations: Int, start: UInt64) {
    let seconds = Double(now() - start) / 1e9
    print(String(format: "%-48@ %12.0f ops/s", name as NSString, Double(operations) / seconds))
}

func sequentialPING(on redis: isolated RedisConnection, count: Int) async throws {
    for _ in 0..<count { _ = try await redis.execute(PING()) }
}

func pipelinedXADD(on redis: isolated RedisConnection, commands: [XADD], rounds: Int) async throws {
    for _ in 0..<rounds { _ = try await redis.pipeline(commands) }
}

func sequentialXADD(on redis: isolated RedisConnection, count: Int) async throws {
    for _ in 0..<count { _ = try await redis.execute(XADD("bench:s", fields: ["f": payload])) }
}

let redis = try await RedisConnection.connect(configuration: configuration, eventLoop: loop, logger: logger)
let mode = takeover ? "takeover" : "default executor"
let sequentialCount = 100_000
_ = try await redis.execute(DEL("bench:s", "bench:p", "bench:lat"))

if CommandLine.arguments.contains("--sequential-only") {
    // For profiling: sequential PING on the connection's loop, for five seconds.
    let start = now()
    var operations = 0
    while now() - start < 5_000_000_000 {
        try await sequentialPING(on: redis, count: 1000)
        operations += 1000
    }
    report("PING sequential, on the loop (\(mode))", operations: operations, start: start)
    exit(0)
}

if let index = CommandLine.arguments.firstIndex(of: "--pipeline-only") {
    // For profiling: pipelined XADD in batches of the given size, for five seconds.
    let batch = Int(CommandLine.arguments[index + 1]) ?? 1000
    let commands = Array(repeating: XADD("bench:p", fields: ["f": payload]), count: batch)
    let start = now()
    var operations = 0
    while now() - start < 5_000_000_000 {
        try await pipelinedXADD(on: redis, commands: commands, rounds: 10)
        operations += batch * 10
    }
    report("XADD pipelined x\(batch) (\(mode))", operations: operations, start: start)
    _ = try await redis.execute(DEL("bench:p"))
    exit(0)
}

for _ in 0..<2 {
    var start = now()
    for _ in 0..<sequentialCount { _ = try await redis.execute(PING()) }
    report("PING sequential, task (\(mode))", operations: sequentialCount, start: start)
    start = now()
    try await sequentialPING(on: redis, count: sequentialCount)
    report("PING sequential, on the loop (\(mode))", operations: sequentialCount, start: start)
    start = now()
    for _ in 0..<sequentialCount { _ = try await redis.execute(XADD("bench:s", fields: ["f": payload])) }
    report("XADD sequential, task (\(mode))", operations: sequentialCount, start: start)
    start = now()
    try await sequentialXADD(on: redis, count: sequentialCount)
    report("XADD sequential, on the loop (\(mode))", operations: sequentialCount, start: start)
    for batch in [64, 1000] {
        let commands = Array(repeating: XADD("bench:p", fields: ["f": payload]), count: batch)
        let rounds = 200_000 / batch
        start = now()
        for _ in 0..<rounds { _ = try await redis.pipeline(commands) }
        report("XADD pipelined x\(batch), task (\(mode))", operations: rounds * batch, start: start)
        start = now()
        try await pipelinedXADD(on: redis, commands: commands, rounds: rounds)
        report("XADD pipelined x\(batch), on the loop (\(mode))", operations: rounds * batch, start: start)
    }
    _ = try await redis.execute(DEL("bench:s", "bench:p"))
}

// MARK: latency from XADD to a consumer blocked in XREADGROUP

func consume(on consumer: isolated RedisConnection, count: Int, signal: AsyncStream<Void>.Continuation) async throws -> [UInt64] {
    var samples: [UInt64] = []
    samples.reserveCapacity(count)
    var received = 0
    while received < count {
        let reads = try await consumer.execute(
            XREADGROUP(group: "g", consumer: "c", streams: [("bench:lat", ">")], count: 100, block: .zero, noAck: true)
        )
        let arrival = now()
        for entry in reads.first?.entries ?? [] {
            if let sent = entry[field: "t"].flatMap({ UInt64(String(buffer: $0)) }) {
                samples.append(arrival - sent)
            }
            received += 1
            signal.yield()
        }
    }
    return samples
}

func produce(on producer: isolated RedisConnection, count: Int, signals: AsyncStream<Void>) async throws {
    var iterator = signals.makeAsyncIterator()
    for _ in 0..<count {
        _ = try await producer.execute(XADD("bench:lat", fields: ["t": ByteBuffer(string: String(now()))]))
        _ = await iterator.next()
    }
}

func latency(sameLoop: Bool, count: Int) async throws -> [UInt64] {
    let consumerLoop = sameLoop ? loop : MultiThreadedEventLoopGroup.singleton.next()
    let consumer = try await RedisConnection.connect(configuration: configuration, eventLoop: consumerLoop, logger: logger)
    _ = try await consumer.execute(DEL("bench:lat"))
    _ = try await consumer.execute(XGROUP.CREATE("bench:lat", group: "g", id: "$", makeStream: true))
    let (signals, signal) = AsyncStream.makeStream(of: Void.self)
    let samples = try await withThrowingTaskGroup(of: [UInt64].self) { group in
        group.addTask { try await consume(on: consumer, count: count, signal: signal) }
        group.addTask {
            try await produce(on: redis, count: count, signals: signals)
            return []
        }
        return try await group.reduce(into: []) { $0 += $1 }
    }
    _ = try await consumer.execute(DEL("bench:lat"))
    await consumer.close()
    return samples
}

func percentile(_ sorted: [UInt64], _ p: Double) -> Double {
    Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]) / 1000
}

for sameLoop in [true, false] {
    _ = try await latency(sameLoop: sameLoop, count: 2_000)
    let values = try await latency(sameLoop: sameLoop, count: 20_000).sorted()
    print(
        String(
            format: "%-48@ p50 %6.1f us  p90 %6.1f us  p99 %6.1f us  max %7.1f us",
            "XADD->XREADGROUP, \(sameLoop ? "same loop" : "two loops") (\(mode))" as NSString,
            percentile(values, 0.5),
            percentile(values, 0.9),
            percentile(values, 0.99),
            Double(values.last ?? 0) / 1000
        )
    )
}
await redis.close()
