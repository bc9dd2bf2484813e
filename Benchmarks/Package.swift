// swift-tools-version: 6.1
import PackageDescription

// The benchmark harness, a package of its own so that the product and its tests build without
// the benchmark toolchain. Run from this folder: `swift package benchmark` (see docs/benchmarks.md).
let package = Package(
    name: "SwitchyardBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Switchyard", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        .executableTarget(
            name: "router-redis-bench",
            dependencies: [
                .product(name: "Switchyard", package: "Switchyard"),
                .product(name: "SwitchyardRedis", package: "Switchyard"),
                .product(name: "RedisClient", package: "Switchyard"),
                .product(name: "JSONSchema", package: "Switchyard"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/router-redis-bench"
        ),
        .executableTarget(
            name: "ws-fanout-bench",
            dependencies: [
                .product(name: "Switchyard", package: "Switchyard"),
                .product(name: "SwitchyardGateway", package: "Switchyard"),
                .product(name: "SwitchyardServer", package: "Switchyard"),
                .product(name: "SwitchyardBench", package: "Switchyard"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/ws-fanout-bench"
        ),
        .executableTarget(
            name: "outbox-bench",
            dependencies: [
                .product(name: "Switchyard", package: "Switchyard"),
                .product(name: "SwitchyardPostgres", package: "Switchyard"),
                .product(name: "SwitchyardRedis", package: "Switchyard"),
                .product(name: "RedisClient", package: "Switchyard"),
                .product(name: "JSONSchema", package: "Switchyard"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            path: "Sources/outbox-bench"
        ),
        .executableTarget(
            name: "router-bench",
            dependencies: [
                .product(name: "Switchyard", package: "Switchyard"),
                .product(name: "JSONSchema", package: "Switchyard"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/router-bench"
        ),
        .executableTarget(
            name: "JSONSchemaBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "JSONSchema", package: "Switchyard"),
                .product(name: "Switchyard", package: "Switchyard"),
            ],
            path: "Benchmarks/JSONSchemaBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "RedisClientBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "RedisClient", package: "Switchyard"),
                .product(name: "RESP", package: "Switchyard"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/RedisClientBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "RedisLatencyBench",
            dependencies: [
                .product(name: "RedisClient", package: "Switchyard"),
                .product(name: "RESP", package: "Switchyard"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/RedisLatencyBench"
        ),
    ],
    swiftLanguageModes: [.v6]
)
