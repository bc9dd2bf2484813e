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
    ],
    targets: [
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
    ],
    swiftLanguageModes: [.v6]
)
