import Switchyard

/// What `switchyard bench` runs: publishers, consumer groups and WebSocket clients, against
/// which engine and gateway.
public struct BenchConfiguration: Sendable {
    /// Where the events go.
    public enum Target: Sendable, Equatable {
        /// An embedded engine in this process (the gateway for the WebSocket clients, too).
        case embedded
        /// A Redis server; the publishers and consumers run here, on a Redis engine.
        case redis(url: String)
        /// Kafka brokers (`kafka://HOST:PORT`); the publishers and consumers run here, on a Kafka engine.
        case kafka(url: String)
    }

    /// The engine; default ``Target/embedded``.
    public var target: Target
    /// A running gateway for the WebSocket clients (`ws://HOST:PORT/v1/ws`); `nil` starts one in
    /// this process on a free loopback port. It must serve the same Redis. Default `nil`.
    public var gatewayURL: String?
    /// An `Authorization` header value for the WebSocket clients, such as `Bearer TOKEN`. Default `nil`.
    public var authorization: String?
    /// Publishers, each on a channel of its own (`PREFIX-1` …). Default 4.
    public var publishers: Int
    /// Events per second each publisher is scheduled to send. Default 1,000.
    public var ratePerPublisher: Int
    /// The most events one publish call carries: a publisher that is behind sends the events
    /// already due together, up to this many. Default 100.
    public var batch: Int
    /// How long the publishers send, warm-up included, in seconds. Default 10.
    public var seconds: Double
    /// The first seconds whose events do not count towards latency. Default 1.
    public var warmupSeconds: Double
    /// Consumer groups, each receiving every event. Default 1.
    public var groups: Int
    /// Consumers in each group. Default 2.
    public var consumersPerGroup: Int
    /// WebSocket clients, each subscribed to every publisher's channel. Default 0.
    public var webSocketClients: Int
    /// The channel prefix: publisher `i` publishes to `PREFIX-i`, with the first valid example of
    /// the contract covering it as payload. Default `price.updated.bench`.
    public var channelPrefix: String
    /// A process to report CPU and RSS for as the server (a `redis-server`, an external gateway);
    /// `nil` finds the local `redis-server` from `INFO server`. Default `nil`.
    public var serverPID: Int32?
    /// How long to wait after the last publish for every acknowledged event to arrive, in seconds. Default 15.
    public var drainSeconds: Double
    /// The channels' acknowledgement (contract policy `acknowledge`); `nil` keeps the contract's. Default `nil`.
    public var acknowledge: ChannelPolicy.Acknowledge?
    /// How many values the publishers cycle the payload's partition-key field through (the field
    /// the channels' contract names in `policy.kafka.partition_key`), so that the records of a
    /// keyed topic spread over its partitions; 1 publishes the example as it is. Kafka only. Default 1.
    public var keys: Int
    /// Whether the consumer groups run in a process of their own (a worker started as
    /// ``workerCommand`` says), as a user's consumers would, instead of in this one. Redis only:
    /// the worker consumes from the same server. Default `false`.
    public var groupProcess: Bool
    /// Whether the WebSocket clients run in a process of their own, connected to the same gateway,
    /// so that this process's CPU no longer includes the clients' reading and decoding. Default `false`.
    public var webSocketProcess: Bool
    /// The contracts folder a worker process loads; it must hold the contracts the run was given.
    /// `nil` loads the shipped contracts. Default `nil`.
    public var contractsFolder: String?
    /// The command line that starts a worker process; the role's options follow it. `nil` runs this
    /// process's own executable (`/proc/self/exe`) with the hidden `bench-worker` subcommand of
    /// `switchyard`. Default `nil`.
    public var workerCommand: [String]?

    /// Creates a configuration; every parameter has the default documented on its property.
    public init(
        target: Target = .embedded, gatewayURL: String? = nil, authorization: String? = nil, publishers: Int = 4,
        ratePerPublisher: Int = 1000, batch: Int = 100, seconds: Double = 10, warmupSeconds: Double = 1, groups: Int = 1,
        consumersPerGroup: Int = 2, webSocketClients: Int = 0, channelPrefix: String = "price.updated.bench",
        serverPID: Int32? = nil, drainSeconds: Double = 15, acknowledge: ChannelPolicy.Acknowledge? = nil, keys: Int = 1,
        groupProcess: Bool = false, webSocketProcess: Bool = false, contractsFolder: String? = nil, workerCommand: [String]? = nil
    ) {
        self.groupProcess = groupProcess
        self.webSocketProcess = webSocketProcess
        self.contractsFolder = contractsFolder
        self.workerCommand = workerCommand
        self.acknowledge = acknowledge
        self.keys = keys
        self.target = target
        self.gatewayURL = gatewayURL
        self.authorization = authorization
        self.publishers = publishers
        self.ratePerPublisher = ratePerPublisher
        self.batch = batch
        self.seconds = seconds
        self.warmupSeconds = warmupSeconds
        self.groups = groups
        self.consumersPerGroup = consumersPerGroup
        self.webSocketClients = webSocketClients
        self.channelPrefix = channelPrefix
        self.serverPID = serverPID
        self.drainSeconds = drainSeconds
    }

    /// The engine's name in the report: `embedded`, `redis` or `kafka`.
    var engineName: String {
        switch target {
        case .embedded: "embedded"
        case .redis: "redis"
        case .kafka: "kafka"
        }
    }

    /// What the process of ``serverPID`` is called in the report.
    var serverRole: String {
        if case .kafka = target { return "kafka broker" }
        return "server"
    }

    /// Every problem with the configuration, one sentence each; empty when it can run.
    public var problems: [String] {
        var problems: [String] = []
        if publishers < 1 { problems.append("--publishers must be at least 1") }
        if ratePerPublisher < 1 { problems.append("--rate must be at least 1 event/s") }
        if ratePerPublisher > 1_000_000 { problems.append("--rate must be at most 1,000,000 events/s per publisher") }
        if batch < 1 { problems.append("--batch must be at least 1") }
        if !(seconds > 0) { problems.append("--duration must be more than 0 seconds") }
        if warmupSeconds < 0 || !(warmupSeconds < seconds) { problems.append("--warmup must be at least 0 and shorter than --duration") }
        if groups < 0 { problems.append("--groups must be at least 0") }
        if consumersPerGroup < 1 { problems.append("--consumers must be at least 1") }
        if webSocketClients < 0 { problems.append("--ws-clients must be at least 0") }
        if drainSeconds < 0 { problems.append("--drain must be at least 0 seconds") }
        if keys < 1 { problems.append("--keys must be at least 1") }
        if case .kafka = target {
            if acknowledge != nil { problems.append("--acknowledge is for Redis: the Kafka engine's publishes always wait for acks=all") }
        } else if keys > 1 {
            problems.append("--keys needs --kafka: it spreads a keyed topic's records over its partitions")
        }
        if groupProcess {
            if case .redis = target {} else {
                problems.append("--group-process needs --redis: the group process consumes from the Redis the publishers write to")
            }
            if groups == 0 { problems.append("--group-process is only used by consumer groups: give --groups 1 or more") }
        }
        if webSocketProcess && webSocketClients == 0 {
            problems.append("--ws-process is only used by WebSocket clients: give --ws-clients")
        }
        if gatewayURL != nil {
            if case .redis = target {} else {
                problems.append("--gateway needs --redis: the gateway must serve the Redis the publishers write to")
            }
            if webSocketClients == 0 { problems.append("--gateway is only used by WebSocket clients: give --ws-clients") }
            if let gatewayURL, WebSocketAddress(gatewayURL) == nil {
                problems.append("--gateway must be a ws://HOST:PORT/PATH URL (wss:// is not supported by the load clients)")
            }
        }
        return problems
    }
}

/// A `ws://` URL taken apart.
struct WebSocketAddress: Equatable {
    var host: String
    var port: Int
    var path: String

    init?(_ url: String) {
        guard url.hasPrefix("ws://") else { return nil }
        let rest = url.dropFirst(5)
        let authority = rest.prefix { $0 != "/" }
        let path = rest.dropFirst(authority.count)
        guard let colon = authority.lastIndex(of: ":"), let port = Int(authority[authority.index(after: colon)...]),
              (1...65535).contains(port), colon > authority.startIndex else { return nil }
        host = String(authority[..<colon]).trimmingCharacters(in: ["[", "]"])
        self.port = port
        self.path = path.isEmpty ? "/v1/ws" : String(path)
    }
}
