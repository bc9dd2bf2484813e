import KafkaClient
import Logging
import RedisClient
import Switchyard
import SwitchyardKafka
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
    /// A Kafka URL (`kafka://HOST:PORT,HOST:PORT?property=value`): run on the Kafka engine. Not
    /// with ``redisURL`` (use ``mirrorURL`` for both).
    public var kafkaURL: String?
    /// A Kafka URL that every event the engine stores is mirrored to, in order, with its sequence
    /// number (``Switchyard/MirroredEngine``).
    public var mirrorURL: String?
    /// When a publish under a mirror is acknowledged.
    public var mirrorAcknowledgement: MirroredEngine.Acknowledgement

    /// Creates the settings; the defaults run the embedded engine.
    public init(
        redisURL: String? = nil, redisCAFile: String? = nil, spoolFile: String? = nil, failFast: Bool = false,
        connectTimeout: Duration? = nil, commandTimeout: Duration? = nil, kafkaURL: String? = nil, mirrorURL: String? = nil,
        mirrorAcknowledgement: MirroredEngine.Acknowledgement = .primary
    ) {
        self.kafkaURL = kafkaURL
        self.mirrorURL = mirrorURL
        self.mirrorAcknowledgement = mirrorAcknowledgement
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

    /// The engine: the Redis engine over a new client when ``redisURL`` is set, the Kafka engine
    /// when ``kafkaURL`` is, else a new embedded engine; under a ``MirroredEngine`` writing to the
    /// Kafka engine of ``mirrorURL`` when that is set. The engine connects when the router that
    /// owns it runs.
    /// - Parameter contracts: The contracts whose `policy.kafka` maps channels to topics.
    /// - Throws: what ``redisConfiguration()`` throws, a `SwitchyardError` when librdkafka cannot
    ///   be loaded, or ``EngineSettingsError`` for settings that do not go together.
    public func makeEngine(logger: Logger, contracts: ContractRegistry? = nil) throws -> any Engine {
        if redisURL != nil, kafkaURL != nil {
            throw EngineSettingsError("choose one engine: --redis or --kafka (to write to both, use --redis with --mirror)")
        }
        let primary: any Engine
        if redisURL != nil {
            primary = try makeRedisEngine(logger: logger)
        } else if let kafkaURL {
            primary = try makeKafkaEngine(url: kafkaURL, contracts: contracts, logger: logger)
        } else {
            primary = EmbeddedEngine(logger: logger)
        }
        guard let mirrorURL else { return primary }
        let mirror = try makeKafkaEngine(url: mirrorURL, contracts: contracts, logger: logger)
        return MirroredEngine(primary: primary, mirror: mirror, configuration: .init(acknowledgement: mirrorAcknowledgement), logger: logger)
    }

    /// The Kafka engine on the brokers of a `kafka://` URL.
    public func makeKafkaEngine(url: String, contracts: ContractRegistry?, logger: Logger) throws -> KafkaEngine {
        let configuration: KafkaConfiguration
        do {
            configuration = try KafkaConfiguration(url: url)
        } catch {
            throw EngineSettingsError("not a Kafka URL: \(error.message)")
        }
        return try KafkaEngine(configuration: KafkaEngine.Configuration(kafka: configuration, contracts: contracts), logger: logger)
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
    let contracts = try contractsDirectory.map { try ContractRegistry.load(from: $0) } ?? ContractRegistry.shipped()
    return Switchyard.Router(
        contracts: contracts, engine: try engine.makeEngine(logger: logger, contracts: contracts), configuration: configuration, logger: logger)
}

/// Engine settings that do not go together, or a URL that is not one.
public struct EngineSettingsError: Error, CustomStringConvertible {
    /// What is wrong.
    public var description: String

    /// Creates an error.
    public init(_ description: String) {
        self.description = description
    }
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
