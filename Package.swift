// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Switchyard",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "switchyard", targets: ["switchyard"]),
        .library(name: "Switchyard", targets: ["Switchyard"]),
        .library(name: "JSONSchema", targets: ["JSONSchema"]),
        // Typed payloads from contracts: the generator, the small tool that runs it, and the build-tool
        // plugin that runs the tool on a target's contracts.
        .library(name: "SwitchyardCodegen", targets: ["SwitchyardCodegen"]),
        .executable(name: "switchyard-codegen", targets: ["switchyard-codegen"]),
        .plugin(name: "SwitchyardContractsPlugin", targets: ["SwitchyardContractsPlugin"]),
        .library(name: "RESP", targets: ["RESP"]),
        .library(name: "RedisClient", targets: ["RedisClient"]),
        .library(name: "KafkaClient", targets: ["KafkaClient"]),
        .library(name: "SwitchyardRedis", targets: ["SwitchyardRedis"]),
        .library(name: "SwitchyardKafka", targets: ["SwitchyardKafka"]),
        .library(name: "SwitchyardGateway", targets: ["SwitchyardGateway"]),
        .library(name: "SwitchyardPostgres", targets: ["SwitchyardPostgres"]),
        .library(name: "SwitchyardServer", targets: ["SwitchyardServer"]),
        // The load generator behind `switchyard bench`, shared with the harness in Benchmarks/.
        .library(name: "SwitchyardBench", targets: ["SwitchyardBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.7.1"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.3"),
        .package(url: "https://github.com/apple/swift-crypto.git", "4.1.0"..<"6.0.0"),
        // OTLP over HTTP only: the gRPC exporter's packages stay out of the build.
        .package(url: "https://github.com/swift-otel/swift-otel", from: "1.6.0", traits: ["OTLPHTTP"]),
    ],
    targets: [
        .target(
            name: "RESP",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")]
        ),
        .target(
            name: "RedisClient",
            dependencies: [
                "RESP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // librdkafka's C API as KafkaClient uses it, bound at run time with dlopen: nothing links
        // against librdkafka, so the package builds where it is missing.
        .target(name: "CRDKafka", linkerSettings: [.linkedLibrary("dl", .when(platforms: [.linux]))]),
        .target(name: "KafkaClient", dependencies: ["CRDKafka"]),
        .target(name: "JSONSchema"),
        .target(name: "SwitchyardCodegen", dependencies: ["JSONSchema"]),
        .executableTarget(name: "switchyard-codegen", dependencies: ["SwitchyardCodegen"]),
        .plugin(name: "SwitchyardContractsPlugin", capability: .buildTool(), dependencies: ["switchyard-codegen"]),
        .target(
            name: "Switchyard",
            dependencies: [
                "JSONSchema",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            resources: [.copy("Resources/contracts"), .copy("Resources/state")]
        ),
        .target(
            name: "SwitchyardRedis",
            dependencies: [
                "Switchyard",
                "RedisClient",
                "RESP",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Resources/publish.lua"), .copy("Resources/dead_letter.lua")]
        ),
        .target(
            name: "SwitchyardKafka",
            dependencies: [
                "Switchyard",
                "KafkaClient",
                "JSONSchema",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .target(
            name: "SwitchyardGateway",
            dependencies: [
                "Switchyard",
                "JSONSchema",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            resources: [.copy("Resources/openapi.json"), .copy("Resources/console"), .copy("Resources/client")]
        ),
        .target(
            name: "SwitchyardPostgres",
            dependencies: [
                "Switchyard",
                "JSONSchema",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        .target(
            name: "SwitchyardDemo",
            dependencies: [
                "Switchyard",
                "JSONSchema",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "SwitchyardServer",
            dependencies: [
                "Switchyard",
                "SwitchyardGateway",
                "SwitchyardRedis",
                "SwitchyardKafka",
                "KafkaClient",
                "SwitchyardPostgres",
                "SwitchyardDemo",
                "RedisClient",
                "JSONSchema",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "OTel", package: "swift-otel"),
            ]
        ),
        .target(
            name: "SwitchyardBench",
            dependencies: [
                "Switchyard",
                "SwitchyardRedis",
                "SwitchyardKafka",
                "KafkaClient",
                "SwitchyardServer",
                "SwitchyardGateway",
                "RedisClient",
                "JSONSchema",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "switchyard",
            dependencies: [
                "SwitchyardBench",
                "Switchyard",
                "SwitchyardServer",
                "SwitchyardDemo",
                "SwitchyardGateway",
                "SwitchyardPostgres",
                "SwitchyardRedis",
                "SwitchyardCodegen",
                "RedisClient",
                "JSONSchema",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        .executableTarget(
            name: "switchyard-chaos-worker",
            dependencies: [
                "Switchyard",
                "SwitchyardServer",
                "SwitchyardPostgres",
                "SwitchyardRedis",
                "RedisClient",
                "JSONSchema",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "RedisTestSupport",
            dependencies: [
                "RedisClient",
                "Switchyard",
                .product(name: "Logging", package: "swift-log"),
                "RESP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tests/RedisTestSupport"
        ),
        .testTarget(
            name: "RESPTests",
            dependencies: ["RESP", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(
            name: "RedisClientTests",
            dependencies: [
                "RedisClient",
                "RESP",
                "RedisTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(name: "JSONSchemaTests", dependencies: ["JSONSchema"]),
        .testTarget(name: "KafkaClientTests", dependencies: ["KafkaClient", "RedisTestSupport"]),
        // Compiles the payload types the plugin generates from contracts/ and tests them, and the
        // generated Python and TypeScript with mypy and tsc.
        .testTarget(
            name: "SwitchyardCodegenTests",
            dependencies: ["SwitchyardCodegen", "Switchyard", "JSONSchema", "RedisTestSupport"],
            plugins: [.plugin(name: "SwitchyardContractsPlugin")]
        ),
        // The same plugin on contracts of the target's own (contracts/) that reach every branch of the
        // generator: their types compile and are run here.
        .testTarget(
            name: "SwitchyardCodegenEdgeTests",
            dependencies: ["Switchyard", "JSONSchema"],
            exclude: ["contracts"],
            plugins: [.plugin(name: "SwitchyardContractsPlugin")]
        ),
        .testTarget(
            name: "SwitchyardCLITests",
            dependencies: [
                "switchyard", "JSONSchema", "Switchyard", "SwitchyardRedis", "SwitchyardGateway", "SwitchyardServer", "SwitchyardBench", "RedisClient", "RedisTestSupport", "SwitchyardKafka", "KafkaClient",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "SwitchyardGatewayTests",
            dependencies: [
                "SwitchyardGateway",
                "SwitchyardServer",
                "SwitchyardDemo",
                "Switchyard",
                "SwitchyardRedis",
                "RedisClient",
                "RedisTestSupport",
                "JSONSchema",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "HummingbirdWSTesting", package: "hummingbird-websocket"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                "SwitchyardPostgres",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "SwitchyardRouterTests",
            dependencies: [
                "Switchyard",
                "SwitchyardRedis",
                "SwitchyardKafka",
                "KafkaClient",
                "RedisClient",
                "RedisTestSupport",
                "JSONSchema",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "SwitchyardRedisTests",
            dependencies: ["SwitchyardRedis", "Switchyard"]
        ),
        .testTarget(
            name: "SwitchyardPostgresTests",
            dependencies: [
                "SwitchyardPostgres",
                "Switchyard",
                "SwitchyardRedis",
                "SwitchyardKafka",
                "KafkaClient",
                "RedisClient",
                "RedisTestSupport",
                "RESP",
                "JSONSchema",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "SwitchyardTests",
            dependencies: ["Switchyard", "JSONSchema", "RedisClient", "RedisTestSupport"],
            resources: [.copy("Fixtures/seeds")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
