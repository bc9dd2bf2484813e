import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle
import Switchyard
import SwitchyardDemo
import SwitchyardGateway
import SwitchyardPostgres
import SwitchyardRedis

/// Builds the whole `switchyard serve` process from its configuration: the router and its engine
/// (``makeRouter(engine:contractsDirectory:configuration:logger:)``), strict mode's outbox when
/// ``ServerConfiguration/postgresURL`` is set, the bridge and the demo when asked for, and the
/// gateway in front of them, as one application.
///
/// Run it with `runService()`: every part runs in one `ServiceGroup` with graceful shutdown on
/// SIGTERM and SIGINT. The HTTP server stops first and finishes its in-flight requests (publishes
/// included), then the other services, then the router and engine.
/// - Throws: ``Switchyard/ContractFolderError`` when the contracts cannot be loaded, a `RedisError`
///   when the Redis URL is invalid or ``EngineSettings/redisCAFile`` cannot be read, or
///   ``SwitchyardGateway/GatewayConfigurationError`` for a bridge without a Redis engine.
public func buildApplication(configuration: ServerConfiguration, logger: Logger) throws -> GatewayApplication {
    let metricsFactory = configuration.gateway.metricsRegistry.map { PrometheusMetricsFactory.switchyard(registry: $0) }
    let router = try makeRouter(
        engine: configuration.effectiveEngine, contractsDirectory: configuration.contractsDirectory,
        configuration: RouterConfiguration(
            source: configuration.source, allowsUnknownChannels: configuration.allowsUnknownChannels, metricsFactory: metricsFactory,
            signingKeys: configuration.signingKeys, encryptionKeys: configuration.encryptionKeys,
            audit: try configuration.auditTrail(logger: logger, metricsFactory: metricsFactory)),
        logger: logger)
    let strictMode = try configuration.postgresURL.map { try StrictMode(url: try PostgresURL($0), router: router, logger: logger) }
    var services: [any Service] = []
    if let bridge = configuration.bridge {
        guard let engine = (router.engine as? RedisEngine) ?? ((router.engine as? MirroredEngine)?.primary as? RedisEngine) else {
            throw GatewayConfigurationError(key: "bridge", "the bridge takes plain publishes from Redis: it needs the Redis engine (--redis or REDIS_URL)")
        }
        services.append(RedisBridge(router: router, engine: engine, configuration: bridge, logger: logger, metricsFactory: metricsFactory))
    }
    if let demo = configuration.demo {
        services.append(DemoStack(router: router, configuration: demo, logger: logger))
    }
    return try buildApplication(router: router, configuration: configuration.gateway, logger: logger, publisher: strictMode, services: services)
}
