import Logging
import RedisClient
import Switchyard
import SwitchyardRedis

/// Which engine a process runs on and how to reach it.
///
/// Every command that needs a router (`serve`, `publish --redis`, `tail`, `relay`, `reconcile`,
/// `bridge`, `bench`) describes its engine with this value and builds it with ``makeEngine(logger:)``,
/// or engine and router together with ``makeRouter(engine:contractsDirectory:configuration:logger:)``.
public struct EngineSettings: Sendable, Equatable {
    /// A Redis URL (`redis://` or `rediss://`, with an optional user and password); `nil` runs the
    /// in-process ``Switchyard/EmbeddedEngine``.
    public var redisURL: String?
    /// A PEM file of the CA to trust for a `rediss://` URL instead of the system's roots.
    public var redisCAFile: String?
    /// The Redis engine's local spool file: publishes made while Redis is unreachable wait there
    /// and are stored in order when it returns; `nil` refuses them with `engine_unavailable`.
    public var spoolFile: String?
    /// Whether an operation refuses at once with `engine_unavailable` while Redis is unreachable,
    /// instead of waiting for the connection to come back (one-shot commands set it).
    public var failFast: Bool
    /// How long to wait for a Redis connection; `nil` keeps the client's default.
    public var connectTimeout: Duration?
    /// How long to wait for a Redis reply before Redis counts as unreachable; `nil` keeps the client's default.
    public var commandTimeout: Duration?

    /// Creates the settings; the defaults run the embedded engine.
    public init(
        redisURL: String? = nil, redisCAFile: String? = nil, spoolFile: String? = nil, failFast: Bool = false,
        connectTimeout: Duration? = nil, commandTimeout: Duration? = nil
    ) {
        self.redisURL = redisURL
        self.redisCAFile = redisCAFile
        self.spoolFile = spoolFile
        self.failFast = failFast
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
    }

    /// The Redis client's configuration these settings describe.
    /// - Throws: `RedisError` when there is no Redis URL, the URL is invalid, or ``redisCAFile`` is
    ///   set for a URL that is not `rediss://` or cannot be read.
    public func redisConfiguration() throws -> RedisConfiguration {
        guard let redisURL else { throw RedisError(.invalidConfiguration, serverMessage: "no Redis URL is set") }
        var configuration = try RedisConfiguration(url: redisURL)
        if let redisCAFile {
            guard configuration.tls.isEnabled else {
                throw RedisError(.invalidConfiguration, serverMessage: "a Redis CA file is set but the Redis URL is not rediss://")
            }
            configuration.tls = try .require(certificateAuthorityFile: redisCAFile)
        }
        if let connectTimeout { configuration.connectTimeout = connectTimeout }
        if let commandTimeout {
            configuration.commandTimeout = commandTimeout
            configuration.pool.acquireTimeout = min(configuration.pool.acquireTimeout, commandTimeout)
        }
        return configuration
    }

    /// The engine: the Redis engine over a new client when ``redisURL`` is set, else a new
    /// embedded engine. The engine connects when the router that owns it runs.
    /// - Throws: what ``redisConfiguration()`` throws.
    public func makeEngine(logger: Logger) throws -> any Engine {
        guard redisURL != nil else { return EmbeddedEngine(logger: logger) }
        return try makeRedisEngine(logger: logger)
    }

    /// The Redis engine over a new client, for the commands that use what only Redis has (the
    /// bridge, `tail`'s stream positions, `reconcile`'s dedup marks).
    /// - Throws: what ``redisConfiguration()`` throws, also when ``redisURL`` is `nil`.
    public func makeRedisEngine(logger: Logger) throws -> RedisEngine {
        let client = try RedisClient(configuration: try redisConfiguration(), logger: logger)
        let spool = spoolFile.map { Spool.Configuration(path: $0) }
        return RedisEngine(client: client, configuration: RedisEngine.Configuration(spool: spool, failFast: failFast), logger: logger)
    }
}

/// Builds a router and its engine: the contracts from `contractsDirectory` (the shipped ones when
/// `nil`), the engine `engine` describes, and the router's own `configuration`.
/// - Throws: ``Switchyard/ContractFolderError`` when the contracts cannot be loaded, or what
///   ``EngineSettings/makeEngine(logger:)`` throws.
public func makeRouter(
    engine: EngineSettings, contractsDirectory: String? = nil, configuration: RouterConfiguration, logger: Logger
) throws -> Switchyard.Router {
    try makeRouter(on: try engine.makeEngine(logger: logger), contractsDirectory: contractsDirectory, configuration: configuration, logger: logger)
}

/// Builds a router on an engine already made: the contracts from `contractsDirectory` (the
/// shipped ones when `nil`) and the router's own `configuration`.
/// - Throws: ``Switchyard/ContractFolderError`` when the contracts cannot be loaded.
public func makeRouter(
    on engine: any Engine, contractsDirectory: String? = nil, configuration: RouterConfiguration, logger: Logger
) throws -> Switchyard.Router {
    let contracts = try contractsDirectory.map { try ContractRegistry.load(from: $0) } ?? ContractRegistry.shipped()
    return Switchyard.Router(contracts: contracts, engine: engine, configuration: configuration, logger: logger)
}
