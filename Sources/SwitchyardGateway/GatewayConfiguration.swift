import Switchyard

/// How `switchyard serve` runs: where it listens, which engine and contracts it uses.
public struct GatewayConfiguration: Sendable {
    /// The address to listen on; default `127.0.0.1`.
    public var host: String
    /// The port to listen on; default 8080 (0 picks a free port).
    public var port: Int
    /// A Redis URL; `nil` runs the in-process ``Switchyard/EmbeddedEngine``.
    public var redisURL: String?
    /// The contracts folder; `nil` for the shipped contracts.
    public var contractsDirectory: String?
    /// Whether publishes to channels no contract covers are accepted (with the default policy).
    public var allowsUnknownChannels: Bool
    /// The envelope `source` of events published through the gateway; default `switchyard-gateway`.
    public var source: String
    /// Bytes a request body may exceed the channel's `max_size_bytes` by before it is refused
    /// unread; default 64 KiB.
    public var bodySlackBytes: Int
    /// The largest `POST /v1/events:batch` body; default 16 MiB.
    public var maxBatchBodyBytes: Int
    /// The most events one batch may carry; default 1,000.
    public var maxBatchEvents: Int
    /// The most events one replay returns; default 10,000.
    public var maxReplayLimit: Int
    /// Who may do what; default ``OpenAuthenticator`` (everyone, every channel).
    public var authenticator: any Authenticator
    /// The `/v1/ws` sessions' queue limit, heartbeat interval and inbound limits.
    public var webSocket: WebSocketConfiguration
    /// A PostgreSQL URL for strict mode: publishes go through the outbox and reach the engine only
    /// after commit (docs/postgres.md); `nil` (the default) publishes directly.
    public var postgresURL: String?

    /// Creates a configuration; every parameter has the default documented on its property.
    public init(
        host: String = "127.0.0.1", port: Int = 8080, redisURL: String? = nil, contractsDirectory: String? = nil,
        allowsUnknownChannels: Bool = false, source: String = "switchyard-gateway", bodySlackBytes: Int = 65_536,
        maxBatchBodyBytes: Int = 16 << 20, maxBatchEvents: Int = 1000, maxReplayLimit: Int = 10_000,
        authenticator: any Authenticator = OpenAuthenticator(), webSocket: WebSocketConfiguration = WebSocketConfiguration(), postgresURL: String? = nil
    ) {
        self.host = host
        self.port = port
        self.redisURL = redisURL
        self.contractsDirectory = contractsDirectory
        self.allowsUnknownChannels = allowsUnknownChannels
        self.source = source
        self.bodySlackBytes = bodySlackBytes
        self.maxBatchBodyBytes = maxBatchBodyBytes
        self.maxBatchEvents = maxBatchEvents
        self.maxReplayLimit = maxReplayLimit
        self.authenticator = authenticator
        self.webSocket = webSocket
        self.postgresURL = postgresURL
    }
}
