import Benchmark
import Foundation
import Logging
import NIOCore
import NIOPosix
import RESP
import RedisClient

/// Round trips and pipelines on one connection against the server at `REDIS_URL`.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.throughput, .wallClock, .mallocCountTotal],
        warmupIterations: 100,
        maxDuration: .seconds(5),
        maxIterations: 100_000
    )

    guard let url = ProcessInfo.processInfo.environment["REDIS_URL"] else {
        fatalError("REDIS_URL is not set: run Benchmarks/run (or scripts/test's environment)")
    }

    func connection() async throws -> RedisConnection {
        try await RedisConnection.connect(
            configuration: try RedisConfiguration(url: url),
            eventLoop: MultiThreadedEventLoopGroup.singleton.next(),
            logger: Logger(label: "bench")
        )
    }

    let payload = ByteBuffer(string: "v")

    Benchmark("PING sequential") { benchmark in
        let redis = try await connection()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { blackHole(try await redis.execute(PING())) }
        benchmark.stopMeasurement()
        await redis.close()
    }

    Benchmark("XADD sequential") { benchmark in
        let redis = try await connection()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try await redis.execute(XADD("bench:s", fields: ["f": payload])))
        }
        benchmark.stopMeasurement()
        _ = try await redis.execute(DEL("bench:s"))
        await redis.close()
    }

    for batch in [64, 1000] {
        Benchmark("XADD pipelined x\(batch)", configuration: .init(maxIterations: 2_000)) { benchmark in
            let redis = try await connection()
            let commands = Array(repeating: XADD("bench:p", fields: ["f": payload]), count: batch)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations { blackHole(try await redis.pipeline(commands)) }
            benchmark.stopMeasurement()
            _ = try await redis.execute(DEL("bench:p"))
            await redis.close()
        }
    }
}
