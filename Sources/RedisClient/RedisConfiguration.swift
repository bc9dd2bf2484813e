import NIOCore
import NIOSSL

/// How a ``RedisClient`` connects, authenticates, times out, pools, reconnects and buffers.
public struct RedisConfiguration: Sendable {
    /// The server's host name or IP address.
    public var host: String
    /// The server's port; 6379 by default.
    public var port: Int
    /// The ACL user name, or `nil` for the `default` user.
    public var username: String?
    /// The password, or `nil` when the server needs none.
    public var password: String?
    /// The database selected on every connection; 0 by default.
    public var database: Int
    /// The name set with `CLIENT SETNAME`, or `nil` for none.
    public var clientName: String?
    /// Whether to use TLS; ``TLS/disable`` by default.
    public var tls: TLS
    /// The protocol to ask for; ``ProtocolVersion/resp3`` by default, falling back to RESP2.
    public var protocolVersion: ProtocolVersion
    /// The longest wait for a TCP (and TLS) connection; 10 seconds by default.
    public var connectTimeout: Duration
    /// The longest wait for a reply, added to a blocking command's own timeout; 30 seconds by default.
    public var commandTimeout: Duration
    /// The connection pool's bounds.
    public var pool: Pool
    /// The backoff between reconnection attempts of the subscription connection.
    public var reconnect: Reconnect
    /// The buffering of subscriptions.
    public var subscriptions: Subscriptions
    /// The Sentinels that name the primary, or `nil` to connect to ``host`` and ``port`` directly.
    ///
    /// With Sentinels, every new connection (pooled or subscribing) first asks them for the
    /// primary's address, then checks with `ROLE` that the server it reached is that primary.
    public var sentinel: Sentinel?
    /// Whether the server is a Redis Cluster node: found out on first use by default.
    public var cluster: Cluster
    /// Further nodes to try when ``host`` and ``port`` do not answer (`redis://h1:p1,h2:p2`); on a
    /// cluster they are seeds of the slot map as well. Empty by default.
    public var seeds: [Endpoint]

    /// Creates a configuration for a server; every other setting has its default.
    public init(host: String = "127.0.0.1", port: Int = 6379) {
        self.host = host
        self.port = port
        self.username = nil
        self.password = nil
        self.database = 0
        self.clientName = nil
        self.tls = .disable
        self.protocolVersion = .resp3
        self.connectTimeout = .seconds(10)
        self.commandTimeout = .seconds(30)
        self.pool = Pool()
        self.reconnect = Reconnect()
        self.subscriptions = Subscriptions()
        self.sentinel = nil
        self.cluster = Cluster()
        self.seeds = []
    }

    /// How the client treats a Redis Cluster.
    public struct Cluster: Sendable {
        /// Whether the client runs in cluster mode.
        public struct Mode: Sendable, Hashable {
            let value: Int
            /// Ask the first node on first use (`CLUSTER SHARDS`): cluster mode when it has cluster
            /// support enabled, else a single server. The default.
            public static let automatic = Mode(value: 0)
            /// Always a single server; `MOVED` replies are errors.
            public static let disabled = Mode(value: 1)
            /// Always a cluster: a node without cluster support is an error.
            public static let required = Mode(value: 2)
        }

        /// Whether to run in cluster mode; ``Mode/automatic`` by default.
        public var mode: Mode = .automatic
        /// How often `run()` reads the slot map again besides after `MOVED` and failures; 10 seconds by default.
        public var refreshInterval: Duration = .seconds(10)
        /// The most redirections (`MOVED`, `ASK`) and retries (`TRYAGAIN`, `CLUSTERDOWN`, a node that
        /// cannot be reached) of one command before its last error is thrown; 16 by default.
        public var maximumAttempts: Int = 16
        /// The longest pause between two retries of a command (the first is 10 ms, doubling); 500 ms by default.
        public var maximumRetryDelay: Duration = .milliseconds(500)
        /// Whether read-only commands (``RedisCommand/isReadOnly``) run on a replica of their slot's
        /// primary (connections that sent `READONLY`), chosen at random, falling back to the primary
        /// when none answers; `false` by default. A replica may lag its primary: what was just
        /// written may not be there yet.
        public var readsFromReplicas = false

        /// Creates cluster settings with the defaults.
        public init() {}
    }

    /// A host and a port.
    public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
        /// The host name or IP address.
        public var host: String
        /// The port.
        public var port: Int

        /// Creates an endpoint.
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        /// `host:port`, with an IPv6 host in brackets.
        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    /// Where the primary is found when Redis runs under Sentinel.
    public struct Sentinel: Sendable {
        /// The Sentinels to ask, in order; the first that answers names the primary.
        public var nodes: [Endpoint]
        /// The name the Sentinels monitor the primary under (`sentinel monitor NAME ...`).
        public var primaryName: String
        /// The ACL user for the Sentinels, or `nil` for none.
        public var username: String?
        /// The Sentinels' password (`requirepass` in sentinel.conf), or `nil` when they need none.
        public var password: String?
        /// Whether `run()` keeps a connection to a Sentinel subscribed to `+switch-master`, so that
        /// a failover closes the connections to the former primary at once instead of at their
        /// next failed command; `true` by default.
        public var followsSwitchMaster: Bool = true

        /// Creates Sentinel settings.
        public init(nodes: [Endpoint], primaryName: String, username: String? = nil, password: String? = nil) {
            self.nodes = nodes
            self.primaryName = primaryName
            self.username = username
            self.password = password
        }
    }

    /// The protocol version to ask the server for.
    public struct ProtocolVersion: Sendable, Hashable {
        let value: Int
        /// RESP3 through `HELLO 3`, falling back to RESP2 (`AUTH`, `SELECT`) when the server has no `HELLO`.
        public static let resp3 = ProtocolVersion(value: 3)
        /// RESP2 only: `AUTH`, `CLIENT SETNAME` and `SELECT`, never `HELLO`.
        public static let resp2 = ProtocolVersion(value: 2)
    }

    /// TLS settings: ``disable`` or ``require(certificateAuthorityFile:certificateChainFile:privateKeyFile:serverHostname:)``.
    public struct TLS: Sendable {
        enum Base: Sendable {
            case disable
            case require(TLSConfiguration, serverHostname: String?)
        }

        let base: Base

        /// Plain TCP.
        public static let disable = TLS(base: .disable)

        /// TLS with a complete swift-nio-ssl configuration.
        public static func require(_ configuration: TLSConfiguration, serverHostname: String? = nil) -> TLS {
            TLS(base: .require(configuration, serverHostname: serverHostname))
        }

        /// TLS that trusts the CA in a PEM file, optionally presenting a client certificate.
        ///
        /// - Parameters:
        ///   - certificateAuthorityFile: PEM file of the CA that signed the server's certificate;
        ///     `nil` trusts the system's roots.
        ///   - certificateChainFile: PEM file of the client certificate, for `tls-auth-clients`.
        ///   - privateKeyFile: PEM file of the client certificate's key.
        ///   - serverHostname: the name to verify and send as SNI; by default the configured host.
        /// - Throws: ``RedisError`` with ``RedisError/Code/tlsFailure`` when a file cannot be read.
        public static func require(
            certificateAuthorityFile: String?,
            certificateChainFile: String? = nil,
            privateKeyFile: String? = nil,
            serverHostname: String? = nil
        ) throws -> TLS {
            var configuration = TLSConfiguration.makeClientConfiguration()
            do {
                if let certificateAuthorityFile {
                    configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(certificateAuthorityFile))
                }
                if let certificateChainFile, let privateKeyFile {
                    configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificateChainFile).map { .certificate($0) }
                    configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: privateKeyFile, format: .pem))
                }
            } catch {
                throw RedisError(.tlsFailure, underlying: error)
            }
            return TLS(base: .require(configuration, serverHostname: serverHostname))
        }

        /// Whether TLS is on.
        public var isEnabled: Bool {
            if case .require = self.base { return true }
            return false
        }
    }

    /// Bounds of the connection pool.
    public struct Pool: Sendable {
        /// The most connections open at once; 8 by default.
        public var maximumConnections: Int = 8
        /// How long a caller waits for a free connection before ``RedisError/Code/poolTimeout``; 5 seconds by default.
        public var acquireTimeout: Duration = .seconds(5)
        /// How often `run()` pings idle connections and drops dead ones; 15 seconds by default.
        public var healthCheckInterval: Duration = .seconds(15)

        /// Creates pool bounds with the defaults.
        public init() {}
    }

    /// Exponential backoff with jitter between reconnection attempts.
    public struct Reconnect: Sendable {
        /// The first delay; 50 ms by default.
        public var initialDelay: Duration = .milliseconds(50)
        /// The longest delay; 5 seconds by default.
        public var maximumDelay: Duration = .seconds(5)
        /// The factor between two delays; 2 by default.
        public var multiplier: Double = 2
        /// The share of each delay drawn at random (0 to 1); 0.2 by default, so a delay is 80–100% of its nominal value.
        public var jitter: Double = 0.2

        /// Creates backoff settings with the defaults.
        public init() {}
    }

    /// Buffering of each subscription.
    public struct Subscriptions: Sendable {
        /// The most events buffered per subscription before the overflow policy applies; 10,000 by default.
        public var bufferSize: Int = 10_000
        /// What happens when a subscriber falls behind; ``OverflowPolicy/dropNewest`` by default.
        public var overflowPolicy: OverflowPolicy = .dropNewest
        /// How long `subscribe` waits for the server to confirm; 10 seconds by default.
        public var confirmationTimeout: Duration = .seconds(10)

        /// Creates subscription settings with the defaults.
        public init() {}
    }

    /// What a full subscription buffer does with a new message.
    public struct OverflowPolicy: Sendable, Hashable {
        let dropsMessages: Bool
        /// Drop new messages while the buffer is full, then deliver a ``RedisSubscription/Event/gap(_:)``
        /// with the number dropped before the next message.
        public static let dropNewest = OverflowPolicy(dropsMessages: true)
        /// End the subscription with ``RedisError/Code/subscriptionOverflow``.
        public static let fail = OverflowPolicy(dropsMessages: false)
    }
}
