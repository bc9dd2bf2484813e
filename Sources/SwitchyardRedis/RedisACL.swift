import Switchyard

/// Redis ACL users derived from the contracts' `producers` and `consumers`: one user per service
/// named in any contract, allowed exactly the keys, channels and commands of docs/wire-format.md
/// that its roles need (docs/security.md).
///
/// Each user is built from Redis 7 selectors, so a command is allowed only together with the keys
/// of the role that needs it:
/// - the root permissions: the connection basics (`PING`, `HELLO`, `AUTH`, `CLIENT SETNAME`,
///   `SELECT`) and nothing else;
/// - a producer selector: `publish.lua`'s keys of every channel the service may publish to
///   (`stream`, `seq`, `latest`, `meta`, `dedup:…:*`, and its own `rate:…:SERVICE` bucket), those
///   channels for `PUBLISH`/`SPUBLISH`, `EVALSHA`/`SCRIPT LOAD` and the commands the script runs;
/// - a consumer selector: the streams it may consume (read and consumer-group state), read-only
///   `latest`/`seq`/`meta`, the channels for `PSUBSCRIBE`/`SUBSCRIBE`, and the group commands;
/// - a dead-letter selector: `XADD` on its channels' `dlq:{C}` only;
/// - registry selectors: `SADD` to the channel registry (`switchyard:channels`) for a producer,
///   `SSCAN` of it for a consumer.
///
/// Redis checks every command a script runs against the calling user, so a consumer that sends its
/// own script still cannot `XADD` to a stream, and a producer cannot touch another channel's keys.
/// A contract whose list holds `*` grants that role to every service named anywhere.
public struct RedisACL: Sendable {
    /// How a user authenticates.
    public enum Password: Sendable, CustomStringConvertible {
        /// The SHA-256 of the password in hex: the line carries `#HASH`, never the password.
        case sha256(String)
        /// The password itself (`>PASSWORD` on the line); prefer ``sha256(_:)`` outside tests.
        case plain(String)
        /// `nopass`: any password is accepted. For throwaway test servers only.
        case none

        /// The ACL rule, which holds the password for ``plain(_:)``.
        var rule: String {
            switch self {
            case .sha256(let hash): "#\(hash.lowercased())"
            case .plain(let password): ">\(password)"
            case .none: "nopass"
            }
        }

        /// The kind of password, never the password itself.
        public var description: String {
            switch self {
            case .sha256: "sha256(***)"
            case .plain: "plain(***)"
            case .none: "nopass"
            }
        }
    }

    /// One generated user.
    public struct User: Sendable {
        /// The ACL user name: ``RedisACL/userPrefix`` followed by the service.
        public var name: String
        /// The service, as the contracts name it (and as the router's `source`).
        public var service: String
        /// The channels and patterns it may publish to.
        public var produces: [ChannelPattern]
        /// The channels and patterns it may consume and subscribe to.
        public var consumes: [ChannelPattern]
        /// The arguments after `ACL SETUSER NAME`, one rule or selector each.
        public var rules: [String]

        /// The whole command as arguments: `ACL`, `SETUSER`, the name, the rules.
        public var command: [String] { ["ACL", "SETUSER", name] + rules }

        /// The command as one line for `redis-cli`, selectors quoted.
        public var line: String {
            command.map { $0.contains(" ") ? "\"\($0)\"" : $0 }.joined(separator: " ")
        }
    }

    /// Commands every user gets, for the connection handshake.
    /// Under Sentinel, `ROLE` (is this the primary?); on a cluster, the slot map (`CLUSTER SHARDS`,
    /// `CLUSTER SLOTS`) and `ASKING` during a migration.
    public static let connectionCommands = [
        "+ping", "+hello", "+auth", "+client|setname", "+select", "+role", "+cluster|shards", "+cluster|slots", "+asking",
    ]
    /// Commands of a producer: the publish script, and every command `publish.lua` runs.
    public static let producerCommands = [
        "+evalsha", "+script|load", "+get", "+mget", "+set", "+incr", "+incrby", "+exists", "+hmget", "+hget", "+hset", "+hdel", "+hincrby", "+pexpire",
        "+xadd", "+xtrim", "+xlen", "+xrange", "+xrevrange", "+xinfo|groups", "+publish", "+spublish", "+time",
    ]
    /// Commands of a consumer: consumer groups, reclaim, replay and latest reads, live subscriptions,
    /// and the dead-letter script (whose `XADD` is allowed only by the dead-letter selector).
    public static let consumerCommands = [
        "+xreadgroup", "+xack", "+xautoclaim", "+xclaim", "+xpending", "+xgroup|create", "+xinfo|groups", "+xinfo|stream",
        "+xrange", "+xrevrange", "+xlen", "+exists", "+get", "+hget", "+scan", "+evalsha", "+script|load",
        "+psubscribe", "+subscribe", "+punsubscribe", "+unsubscribe",
    ]

    /// Commands of the gateway (`switchyard serve`): the publish script and every command it runs,
    /// replay and latest reads (with the read-by-sequence and info scripts), live subscriptions,
    /// consumer-group state for `/v1/groups` and the metrics, dead-letter reads, requeues and drops,
    /// the channel registry and its keyspace scan, and `PING` for the health check. No
    /// administrative command (`FLUSHALL`, `CONFIG`, `KEYS`, `DEBUG`, `ACL`, …) and no `DEL`.
    public static let gatewayCommands = [
        "+evalsha", "+script|load", "+get", "+mget", "+set", "+incr", "+incrby", "+exists", "+hmget", "+hget", "+hset", "+hdel", "+hincrby", "+pexpire", "+time",
        "+xadd", "+xtrim", "+xlen", "+xrange", "+xrevrange", "+xdel", "+xack", "+xclaim", "+xautoclaim", "+xpending", "+xreadgroup",
        "+xgroup|create", "+xinfo|groups", "+xinfo|stream", "+publish", "+spublish", "+psubscribe", "+subscribe", "+punsubscribe",
        "+unsubscribe", "+sadd", "+sscan", "+scan",
    ]
    /// The keys and channels of the gateway: every channel's keys of docs/wire-format.md, the
    /// channel registry, and every Pub/Sub channel (it publishes and subscribes for its callers,
    /// whose grants it checks itself). Nothing else in the keyspace.
    public static let gatewayKeys = [
        "~stream:{*}", "~seq:{*}", "~latest:{*}", "~meta:{*}", "~dedup:{*}:*", "~rate:{*}:*", "~dlq:{*}",
        "~" + RedisEngine.channelRegistryKey, "&*",
    ]

    /// The ACL user the gateway itself connects as: ``gatewayKeys`` and ``gatewayCommands``, after
    /// the connection basics.
    /// - Parameters:
    ///   - name: The user name (after ``userPrefix``). Default `switchyard-gateway`.
    ///   - password: How it authenticates.
    /// - Throws: ``SwitchyardError`` `invalid_contract` when the name or prefix holds characters
    ///   other than letters, digits, `_`, `.` and `-`.
    public func gatewayUser(named name: String = "switchyard-gateway", password: Password) throws(SwitchyardError) -> User {
        guard name != "*", ChannelPolicy.isValidServiceName(name), userPrefix.isEmpty || ChannelPolicy.isValidServiceName(userPrefix) else {
            throw SwitchyardError(.invalidContract, "the gateway's ACL user name '\((userPrefix + name).prefix(80))' may hold only letters, digits, '_', '.' and '-'")
        }
        let everything = try ChannelPattern("*")
        return User(
            name: userPrefix + name, service: name, produces: [everything], consumes: [everything],
            rules: ["reset", "on", password.rule] + Self.connectionCommands + Self.gatewayKeys + Self.gatewayCommands)
    }

    /// Prepended to every user name (for example `switchyard-`); the rate-limit key still uses the
    /// bare service name, which is the router's `source`. Default empty.
    public var userPrefix: String

    /// Creates a generator.
    public init(userPrefix: String = "") {
        self.userPrefix = userPrefix
    }

    /// Every service named in the contracts' `producers` or `consumers`, sorted; `*` is not a service.
    public static func services(in contracts: ContractRegistry) -> [String] {
        let names = contracts.contracts.flatMap { $0.policy.producers + $0.policy.consumers }
        return Set(names).subtracting(["*"]).sorted()
    }

    /// One user per service, in service order.
    ///
    /// Service names, the user prefix and contract channels become ACL rules, so each is checked
    /// first: a name such as `x ~* +@all` would otherwise add rules of its own.
    /// - Parameter password: the password of a service; it may throw (a missing secret), and the error passes through.
    /// - Throws: ``SwitchyardError`` `invalid_contract` naming a service (``ChannelPolicy/isValidServiceName(_:)``),
    ///   a user prefix or a channel pattern (``ChannelPattern/hasOnlyChannelAndGlobCharacters``) that is not safe in a rule.
    public func users(for contracts: ContractRegistry, password: (String) throws -> Password) throws -> [User] {
        try validate(contracts)
        return try Self.services(in: contracts).map { service in
            func patterns(_ list: KeyPath<ChannelPolicy, [String]>) -> [ChannelPattern] {
                contracts.contracts.filter { $0.policy[keyPath: list].contains(service) || $0.policy[keyPath: list].contains("*") }
                    .map(\.channel)
            }
            let produces = patterns(\.producers)
            let consumes = patterns(\.consumers)
            return User(
                name: userPrefix + service, service: service, produces: produces, consumes: consumes,
                rules: ["reset", "on", try password(service).rule] + Self.connectionCommands
                    + Self.selectors(service: service, produces: produces, consumes: consumes))
        }
    }

    private func validate(_ contracts: ContractRegistry) throws(SwitchyardError) {
        guard userPrefix.isEmpty || (userPrefix != "*" && ChannelPolicy.isValidServiceName(userPrefix)) else {
            throw SwitchyardError(.invalidContract, "the ACL user prefix '\(userPrefix.prefix(80))' may hold only letters, digits, '_', '.' and '-'")
        }
        for contract in contracts.contracts {
            guard contract.channel.hasOnlyChannelAndGlobCharacters else {
                throw SwitchyardError(.invalidContract, "the contract channel '\(contract.channel.rawValue.prefix(80))' holds characters that cannot stand in an ACL rule")
            }
            for (field, names) in [("producers", contract.policy.producers), ("consumers", contract.policy.consumers)] {
                if let name = names.first(where: { !ChannelPolicy.isValidServiceName($0) }) {
                    throw SwitchyardError(
                        .invalidContract,
                        "the contract of '\(contract.channel.rawValue)' names '\(name.prefix(80))' in '\(field)': a service name holds only letters, digits, '_', '.' and '-'")
                }
            }
        }
    }

    /// The selectors of one service's roles.
    static func selectors(service: String, produces: [ChannelPattern], consumes: [ChannelPattern]) -> [String] {
        var selectors: [String] = []
        if !produces.isEmpty {
            let keys = produces.flatMap { pattern -> [String] in
                let c = pattern.rawValue
                return ["~stream:{\(c)}", "~seq:{\(c)}", "~latest:{\(c)}", "~meta:{\(c)}", "~dedup:{\(c)}:*", "~rate:{\(c)}:\(service)"]
            }
            selectors.append(selector(keys + produces.map { "&\($0.rawValue)" } + producerCommands))
            selectors.append(selector(["~" + RedisEngine.channelRegistryKey, "+sadd"]))
        }
        if !consumes.isEmpty {
            let keys = consumes.flatMap { pattern -> [String] in
                let c = pattern.rawValue
                return ["~stream:{\(c)}", "~dlq:{\(c)}", "%R~latest:{\(c)}", "%R~seq:{\(c)}", "%R~meta:{\(c)}"]
            }
            selectors.append(selector(keys + consumes.map { "&\($0.rawValue)" } + consumerCommands))
            selectors.append(selector(consumes.map { "~dlq:{\($0.rawValue)}" } + ["+xadd"]))
            selectors.append(selector(["%R~" + RedisEngine.channelRegistryKey, "+sscan"]))
        }
        return selectors
    }

    private static func selector(_ rules: [String]) -> String { "(" + rules.joined(separator: " ") + ")" }
}
