import Foundation
import JSONSchema
import Switchyard
import SwitchyardGateway

/// One layer of Switchyard's settings (a config file, the environment, or the command line),
/// where `nil` means "not set here". Layers stack with ``overridden(by:)``; every command resolves
/// defaults < file < environment < flags with ``ResolvedSettings/resolve(configFile:environment:flags:)``,
/// and `serve` turns the result into a ``ServerConfiguration``.
///
/// The config file is JSON with these keys, every one optional:
/// `host`, `port`, `redis`, `redis_ca`, `postgres`, `contracts`, `tls_cert`, `tls_key`, `signing_keys_file`,
/// `encryption_keys_file`, `audit_file`, `spool_file` (paths relative to the file's folder), `allow_unknown_channels`,
/// `allowed_hosts`, `allowed_origins` (see ``BrowserPolicy``), `allow_anonymous_publish`, `metrics_token`,
/// `ws_max_patterns`, `ws_max_sessions`, `idle_timeout_seconds`, `otlp_endpoint`,
/// `auth` with `jwt_keys`, `api_keys`, `anonymous`, `issuer` and `audience` (see ``AuthConfiguration``), and
/// `alerts` (the alert rules' settings; docs/configuration.md).
public struct ServerSettings: Sendable {
    /// The address to listen on.
    public var host: String?
    /// The port to listen on.
    public var port: Int?
    /// The Redis URL; an empty string sets the embedded engine (so `--redis ''` overrides a file's URL).
    public var redis: String?
    /// The PostgreSQL URL of strict mode, the relay, the archive and the audit trail; an empty
    /// string sets none (so `--postgres ''` overrides a file's URL).
    public var postgres: String?
    /// The contracts folder.
    public var contracts: String?
    /// Whether unknown channels are accepted.
    public var allowUnknownChannels: Bool?
    /// Who may do what; ``AuthConfiguration/embeddedDefault`` when no layer sets it.
    public var auth: AuthConfiguration?
    /// Whether the alert rules run (`switchyard serve` runs them unless a layer says `false`).
    public var alertsEnabled: Bool?
    /// The alert rules' settings; the defaults of ``Switchyard/AlertConfiguration`` when no layer sets them.
    public var alerts: AlertConfiguration?
    /// A PEM file of the CA that signed the Redis server's certificate, trusted for `rediss://` URLs
    /// instead of the system's roots.
    public var redisCA: String?
    /// The gateway's certificate chain (PEM); with ``tlsKey`` the gateway serves HTTPS and WSS only.
    public var tlsCert: String?
    /// The private key (PEM) of ``tlsCert``.
    public var tlsKey: String?
    /// Where the HMAC-SHA256 keys of signed events come from (docs/security.md).
    public var signingKeys: KeySource?
    /// Where the AES-256-GCM keys of sensitive fields come from.
    public var encryptionKeys: KeySource?
    /// The append-only audit file (JSON lines), used when PostgreSQL is not configured.
    public var auditFile: String?
    /// An OpenTelemetry collector's OTLP/HTTP base URL (`http://collector:4318`): the publish,
    /// relay and deliver spans go to its `/v1/traces` and the metrics to its `/v1/metrics`.
    public var otlpEndpoint: String?
    /// A Kafka URL (`kafka://HOST:PORT,HOST:PORT`) to run on the Kafka engine instead of Redis.
    public var kafka: String?
    /// A Kafka URL to mirror every stored event to (the dual-write of a move from Redis to Kafka).
    public var mirror: String?
    /// When a publish under a dual-write is acknowledged: `primary` or `both`.
    public var mirrorAcknowledgement: MirroredEngine.Acknowledgement?
    /// The Redis engine's local spool file: publishes accepted while Redis is unreachable wait
    /// there and are replayed in order when it returns.
    public var spoolFile: String?
    /// Host names served besides IP literals and loopback names (``BrowserPolicy/allowedHosts``).
    public var allowedHosts: [String]?
    /// Origins allowed besides the gateway's own and loopback ones (``BrowserPolicy/allowedOrigins``).
    public var allowedOrigins: [String]?
    /// With the default auth (no `auth` section), whether loopback clients without credentials may
    /// publish too, not only read.
    public var allowAnonymousPublish: Bool?
    /// The bearer token `GET /metrics` requires.
    public var metricsToken: String?
    /// The most channel patterns per WebSocket session (``WebSocketConfiguration/maxPatternsPerSession``).
    public var wsMaxPatterns: Int?
    /// The most open WebSocket sessions per caller (``WebSocketConfiguration/maxSessionsPerPrincipal``).
    public var wsMaxSessions: Int?
    /// Seconds an HTTP connection may stay idle before it is closed, 0 for never (``SwitchyardGateway/GatewayConfiguration/idleTimeout``).
    public var idleTimeoutSeconds: Int?

    /// Where a ring of keys is read from: a file, or text (an environment variable's value).
    public enum KeySource: Sendable, Hashable, CustomStringConvertible {
        /// A file of `ID:BASE64` lines, newest first.
        case file(String)
        /// `ID:BASE64` entries separated by commas or newlines, with the name of where they came from.
        case text(String, origin: String)

        /// The keys.
        /// - Throws: ``GatewayConfigurationError`` naming `key`, never the secret.
        public func load(purpose: KeyRing.Purpose, key: String) throws(GatewayConfigurationError) -> KeyRing {
            do {
                switch self {
                case .file(let path): return try KeyRing(file: path, purpose: purpose)
                case .text(let text, let origin): return try KeyRing(parsing: text, purpose: purpose, origin: origin)
                }
            } catch {
                throw GatewayConfigurationError(key: key, error.message)
            }
        }

        /// The variable that holds signing keys; with `_FILE`, the one that names their file.
        public static let signingVariable = "SWITCHYARD_SIGNING_KEYS"
        /// The variable that holds encryption keys; with `_FILE`, the one that names their file.
        public static let encryptionVariable = "SWITCHYARD_ENCRYPTION_KEYS"

        /// The keys `variable` holds, or the file `variable_FILE` names; `nil` when neither is set
        /// (empty counts as unset).
        /// - Throws: ``GatewayConfigurationError`` when both are set.
        public init?(environment: [String: String], variable: String) throws(GatewayConfigurationError) {
            let variables = EnvironmentVariables(environment)
            func value(_ name: String) -> String? { variables[name] }
            switch (value(variable), value(variable + "_FILE")) {
            case (let text?, nil): self = .text(text, origin: variable)
            case (nil, let file?): self = .file(file)
            case (_?, _?): throw GatewayConfigurationError(key: variable, "give \(variable) or \(variable)_FILE, not both")
            case (nil, nil): return nil
            }
        }

        /// The file's path or the variable's name: never the keys.
        public var description: String {
            switch self {
            case .file(let path): path
            case .text(_, let origin): origin
            }
        }
    }

    /// Creates a layer; every setting is unset by default.
    public init(
        host: String? = nil, port: Int? = nil, redis: String? = nil, postgres: String? = nil, contracts: String? = nil,
        allowUnknownChannels: Bool? = nil, auth: AuthConfiguration? = nil, alertsEnabled: Bool? = nil, alerts: AlertConfiguration? = nil,
        redisCA: String? = nil, tlsCert: String? = nil, tlsKey: String? = nil, signingKeys: KeySource? = nil,
        encryptionKeys: KeySource? = nil, auditFile: String? = nil, spoolFile: String? = nil, allowedHosts: [String]? = nil,
        allowedOrigins: [String]? = nil, allowAnonymousPublish: Bool? = nil, metricsToken: String? = nil,
        wsMaxPatterns: Int? = nil, wsMaxSessions: Int? = nil, idleTimeoutSeconds: Int? = nil, otlpEndpoint: String? = nil,
        kafka: String? = nil, mirror: String? = nil, mirrorAcknowledgement: MirroredEngine.Acknowledgement? = nil
    ) {
        self.kafka = kafka
        self.mirror = mirror
        self.mirrorAcknowledgement = mirrorAcknowledgement
        self.otlpEndpoint = otlpEndpoint
        self.wsMaxPatterns = wsMaxPatterns
        self.wsMaxSessions = wsMaxSessions
        self.idleTimeoutSeconds = idleTimeoutSeconds
        self.spoolFile = spoolFile
        self.allowedHosts = allowedHosts
        self.allowedOrigins = allowedOrigins
        self.allowAnonymousPublish = allowAnonymousPublish
        self.metricsToken = metricsToken
        self.signingKeys = signingKeys
        self.encryptionKeys = encryptionKeys
        self.auditFile = auditFile
        self.alertsEnabled = alertsEnabled
        self.alerts = alerts
        self.redisCA = redisCA
        self.tlsCert = tlsCert
        self.tlsKey = tlsKey
        self.host = host
        self.port = port
        self.redis = redis
        self.postgres = postgres
        self.contracts = contracts
        self.allowUnknownChannels = allowUnknownChannels
        self.auth = auth
    }

    /// This layer with every setting `other` sets replaced by `other`'s.
    public func overridden(by other: ServerSettings) -> ServerSettings {
        ServerSettings(
            host: other.host ?? host, port: other.port ?? port, redis: other.redis ?? redis, postgres: other.postgres ?? postgres,
            contracts: other.contracts ?? contracts, allowUnknownChannels: other.allowUnknownChannels ?? allowUnknownChannels,
            auth: other.auth ?? auth, alertsEnabled: other.alertsEnabled ?? alertsEnabled, alerts: other.alerts ?? alerts,
            redisCA: other.redisCA ?? redisCA, tlsCert: other.tlsCert ?? tlsCert, tlsKey: other.tlsKey ?? tlsKey,
            signingKeys: other.signingKeys ?? signingKeys, encryptionKeys: other.encryptionKeys ?? encryptionKeys,
            auditFile: other.auditFile ?? auditFile, spoolFile: other.spoolFile ?? spoolFile,
            allowedHosts: other.allowedHosts ?? allowedHosts, allowedOrigins: other.allowedOrigins ?? allowedOrigins,
            allowAnonymousPublish: other.allowAnonymousPublish ?? allowAnonymousPublish, metricsToken: other.metricsToken ?? metricsToken,
            wsMaxPatterns: other.wsMaxPatterns ?? wsMaxPatterns, wsMaxSessions: other.wsMaxSessions ?? wsMaxSessions,
            idleTimeoutSeconds: other.idleTimeoutSeconds ?? idleTimeoutSeconds, otlpEndpoint: other.otlpEndpoint ?? otlpEndpoint,
            kafka: other.kafka ?? kafka, mirror: other.mirror ?? mirror, mirrorAcknowledgement: other.mirrorAcknowledgement ?? mirrorAcknowledgement)
    }

    /// The settings from the environment: `SWITCHYARD_HOST`, `SWITCHYARD_PORT`, `REDIS_URL`, `POSTGRES_URL`,
    /// `SWITCHYARD_CONTRACTS`, `SWITCHYARD_ALLOW_UNKNOWN_CHANNELS` (`true`/`false`/`1`/`0`),
    /// `SWITCHYARD_REDIS_CA`, `SWITCHYARD_TLS_CERT`, `SWITCHYARD_TLS_KEY`, `SWITCHYARD_SIGNING_KEYS` (the
    /// keys themselves) or `SWITCHYARD_SIGNING_KEYS_FILE`, `SWITCHYARD_ENCRYPTION_KEYS` or
    /// `SWITCHYARD_ENCRYPTION_KEYS_FILE`, `SWITCHYARD_AUDIT_FILE`, `SWITCHYARD_SPOOL`,
    /// `SWITCHYARD_ALLOWED_HOSTS` and `SWITCHYARD_ALLOWED_ORIGINS` (comma-separated),
    /// `SWITCHYARD_ALLOW_ANONYMOUS_PUBLISH` (`true`/`false`), `SWITCHYARD_METRICS_TOKEN`,
    /// `SWITCHYARD_WS_MAX_PATTERNS`, `SWITCHYARD_WS_MAX_SESSIONS`, `SWITCHYARD_IDLE_TIMEOUT` (seconds),
    /// `SWITCHYARD_OTLP_ENDPOINT`, `SWITCHYARD_KAFKA`, `SWITCHYARD_MIRROR`, `SWITCHYARD_MIRROR_ACK` (`primary`/`both`).
    /// Empty variables count as unset.
    /// - Throws: ``GatewayConfigurationError`` naming the variable when a value has the wrong form.
    public init(environment: [String: String]) throws(GatewayConfigurationError) {
        let variables = EnvironmentVariables(environment)
        func value(_ name: String) -> String? { variables[name] }
        self.init(
            host: value("SWITCHYARD_HOST"), redis: value("REDIS_URL"), postgres: value("POSTGRES_URL"), contracts: value("SWITCHYARD_CONTRACTS"),
            redisCA: value("SWITCHYARD_REDIS_CA"), tlsCert: value("SWITCHYARD_TLS_CERT"), tlsKey: value("SWITCHYARD_TLS_KEY"),
            auditFile: value("SWITCHYARD_AUDIT_FILE"), spoolFile: value("SWITCHYARD_SPOOL"), metricsToken: value("SWITCHYARD_METRICS_TOKEN"),
            otlpEndpoint: value("SWITCHYARD_OTLP_ENDPOINT"), kafka: value("SWITCHYARD_KAFKA"), mirror: value("SWITCHYARD_MIRROR"))
        if let text = value("SWITCHYARD_MIRROR_ACK") {
            guard let mode = MirroredEngine.Acknowledgement(rawValue: text) else {
                throw GatewayConfigurationError(key: "SWITCHYARD_MIRROR_ACK", "must be primary or both, not '\(text)'")
            }
            mirrorAcknowledgement = mode
        }
        func list(_ name: String) -> [String]? {
            value(name).map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
        }
        allowedHosts = list("SWITCHYARD_ALLOWED_HOSTS")
        allowedOrigins = list("SWITCHYARD_ALLOWED_ORIGINS")
        signingKeys = try KeySource(environment: environment, variable: KeySource.signingVariable)
        encryptionKeys = try KeySource(environment: environment, variable: KeySource.encryptionVariable)
        if let text = value("SWITCHYARD_PORT") {
            guard let port = Int(text), (0...65535).contains(port) else {
                throw GatewayConfigurationError(key: "SWITCHYARD_PORT", "must be a port number (0-65535), not '\(text)'")
            }
            self.port = port
        }
        func limit(_ name: String, minimum: Int) throws(GatewayConfigurationError) -> Int? {
            guard let text = value(name) else { return nil }
            guard let number = Int(text), number >= minimum else {
                throw GatewayConfigurationError(key: name, "must be an integer of at least \(minimum), not '\(text)'")
            }
            return number
        }
        wsMaxPatterns = try limit("SWITCHYARD_WS_MAX_PATTERNS", minimum: 1)
        wsMaxSessions = try limit("SWITCHYARD_WS_MAX_SESSIONS", minimum: 1)
        idleTimeoutSeconds = try limit("SWITCHYARD_IDLE_TIMEOUT", minimum: 0)
        func flag(_ name: String) throws(GatewayConfigurationError) -> Bool? {
            guard let text = value(name) else { return nil }
            switch text.lowercased() {
            case "true", "1", "yes": return true
            case "false", "0", "no": return false
            default: throw GatewayConfigurationError(key: name, "must be true or false, not '\(text)'")
            }
        }
        allowUnknownChannels = try flag("SWITCHYARD_ALLOW_UNKNOWN_CHANNELS")
        allowAnonymousPublish = try flag("SWITCHYARD_ALLOW_ANONYMOUS_PUBLISH")
    }

    /// Reads a config file.
    /// - Throws: ``GatewayConfigurationError`` when the file cannot be read, is not JSON, or has
    ///   an unknown key or a value of the wrong type (the error names the key).
    public init(file path: String) throws(GatewayConfigurationError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw GatewayConfigurationError(key: "", "cannot read the config file", file: path)
        }
        let settings: ServerSettings
        do {
            settings = try ServerSettings(parsing: Array(data), directory: URL(fileURLWithPath: path).deletingLastPathComponent().path)
        } catch {
            throw GatewayConfigurationError(key: error.key, error.message, file: path)
        }
        self = settings
    }

    /// Parses a config file's bytes; relative paths are taken from `directory`.
    /// - Throws: ``GatewayConfigurationError`` naming the key at fault.
    public init(parsing bytes: [UInt8], directory: String? = nil) throws(GatewayConfigurationError) {
        let document: JSONValue
        do { document = try JSONValue(parsing: bytes) } catch {
            throw GatewayConfigurationError(key: "", "the config file is not valid JSON: \(error)")
        }
        let top = try ConfigObject(document, path: "", known: [
            "host", "port", "redis", "redis_ca", "postgres", "contracts", "allow_unknown_channels", "auth", "alerts", "tls_cert", "tls_key",
            "signing_keys_file", "encryption_keys_file", "audit_file", "spool_file", "allowed_hosts", "allowed_origins",
            "allow_anonymous_publish", "metrics_token", "ws_max_patterns", "ws_max_sessions", "idle_timeout_seconds", "otlp_endpoint",
            "kafka", "mirror", "mirror_ack",
        ])
        self.init()
        host = try top.string("host")
        if let port = try top.int("port") {
            guard (0...65535).contains(port) else { throw GatewayConfigurationError(key: "port", "must be between 0 and 65535") }
            self.port = port
        }
        redis = try top.string("redis")
        postgres = try top.string("postgres")
        contracts = try top.string("contracts").map { Self.resolve($0, in: directory) }
        allowUnknownChannels = try top.bool("allow_unknown_channels")
        redisCA = try top.string("redis_ca").map { Self.resolve($0, in: directory) }
        tlsCert = try top.string("tls_cert").map { Self.resolve($0, in: directory) }
        tlsKey = try top.string("tls_key").map { Self.resolve($0, in: directory) }
        signingKeys = try top.string("signing_keys_file").map { .file(Self.resolve($0, in: directory)) }
        encryptionKeys = try top.string("encryption_keys_file").map { .file(Self.resolve($0, in: directory)) }
        auditFile = try top.string("audit_file").map { Self.resolve($0, in: directory) }
        spoolFile = try top.string("spool_file").map { Self.resolve($0, in: directory) }
        otlpEndpoint = try top.string("otlp_endpoint")
        kafka = try top.string("kafka")
        mirror = try top.string("mirror")
        if let text = try top.string("mirror_ack") {
            guard let mode = MirroredEngine.Acknowledgement(rawValue: text) else {
                throw GatewayConfigurationError(key: "mirror_ack", "must be \"primary\" or \"both\"")
            }
            mirrorAcknowledgement = mode
        }
        func limit(_ key: String, minimum: Int) throws(GatewayConfigurationError) -> Int? {
            guard let number = try top.int(key) else { return nil }
            guard number >= minimum else { throw GatewayConfigurationError(key: key, "must be at least \(minimum)") }
            return number
        }
        wsMaxPatterns = try limit("ws_max_patterns", minimum: 1)
        wsMaxSessions = try limit("ws_max_sessions", minimum: 1)
        idleTimeoutSeconds = try limit("idle_timeout_seconds", minimum: 0)
        allowedHosts = try top.value("allowed_hosts") == nil ? nil : try top.strings("allowed_hosts")
        allowedOrigins = try top.value("allowed_origins") == nil ? nil : try top.strings("allowed_origins")
        allowAnonymousPublish = try top.bool("allow_anonymous_publish")
        metricsToken = try top.string("metrics_token")
        if let auth = try top.object("auth", known: ["jwt_keys", "api_keys", "anonymous", "issuer", "audience"]) {
            self.auth = try Self.auth(auth, directory: directory)
        }
        if let alerts = try top.object("alerts", known: ["enabled", "interval_seconds", "keep_resolved_seconds", "rules"]) {
            (alertsEnabled, self.alerts) = try Self.alerts(alerts)
        }
    }

    private static func resolve(_ path: String, in directory: String?) -> String {
        guard let directory, !path.hasPrefix("/") else { return path }
        return URL(fileURLWithPath: directory).appendingPathComponent(path).path
    }

    private static func auth(_ auth: ConfigObject, directory: String?) throws(GatewayConfigurationError) -> AuthConfiguration {
        var configuration = AuthConfiguration(issuer: try auth.string("issuer"), audience: try auth.string("audience"))
        for (index, key) in try auth.objects("jwt_keys", known: ["algorithm", "secret", "public_key_pem", "public_key_file", "kid"]).enumerated() {
            let path = "auth.jwt_keys[\(index)]"
            let kid = try key.string("kid")
            switch try key.string("algorithm") {
            case "HS256"?:
                guard let secret = try key.string("secret") else { throw GatewayConfigurationError(key: "\(path).secret", "is required for HS256") }
                configuration.jwtKeys.append(.init(.hs256(secret: secret), kid: kid))
            case "ES256"?:
                var pem = try key.string("public_key_pem")
                if pem == nil, let file = try key.string("public_key_file") {
                    guard let data = FileManager.default.contents(atPath: resolve(file, in: directory)) else {
                        throw GatewayConfigurationError(key: "\(path).public_key_file", "cannot read \(file)")
                    }
                    pem = String(decoding: data, as: UTF8.self)
                }
                guard let pem else { throw GatewayConfigurationError(key: "\(path).public_key_pem", "is required for ES256 (or public_key_file)") }
                configuration.jwtKeys.append(.init(.es256(publicKeyPEM: pem), kid: kid))
            case nil: throw GatewayConfigurationError(key: "\(path).algorithm", "is required: \"HS256\" or \"ES256\"")
            case let other?: throw GatewayConfigurationError(key: "\(path).algorithm", "must be \"HS256\" or \"ES256\", not \"\(other)\"")
            }
        }
        for (index, key) in try auth.objects("api_keys", known: ["name", "key", "grants"]).enumerated() {
            let path = "auth.api_keys[\(index)]"
            guard let name = try key.string("name") else { throw GatewayConfigurationError(key: "\(path).name", "is required") }
            guard let secret = try key.string("key") else { throw GatewayConfigurationError(key: "\(path).key", "is required") }
            configuration.apiKeys.append(.init(name: name, key: secret, grants: try grants(key, path: path)))
        }
        if let anonymous = try auth.object("anonymous", known: ["enabled", "loopback_only", "grants"]) {
            configuration.anonymous = AuthConfiguration.Anonymous(
                enabled: try anonymous.bool("enabled") ?? false, loopbackOnly: try anonymous.bool("loopback_only") ?? true,
                grants: try grants(anonymous, path: "auth.anonymous"))
        }
        return configuration
    }

    private static func grants(_ owner: ConfigObject, path: String) throws(GatewayConfigurationError) -> Grants {
        guard let object = try owner.object("grants", known: ["publish", "subscribe"]) else { return .none }
        func patterns(_ name: String) throws(GatewayConfigurationError) -> [ChannelPattern] {
            var result: [ChannelPattern] = []
            for (index, text) in try object.strings(name).enumerated() {
                do { result.append(try ChannelPattern(text)) } catch {
                    throw GatewayConfigurationError(key: "\(path).grants.\(name)[\(index)]", "'\(text)' is not a channel pattern")
                }
            }
            return result
        }
        return Grants(publish: try patterns("publish"), subscribe: try patterns("subscribe"))
    }
}

/// A JSON object of a config file with its path, refusing keys it does not know.
struct ConfigObject {
    let members: JSONObject
    let path: String

    init(_ value: JSONValue, path: String, known: Set<String>) throws(GatewayConfigurationError) {
        guard case .object(let members) = value else {
            throw GatewayConfigurationError(key: path, path.isEmpty ? "the config file must hold a JSON object" : "must be an object")
        }
        for key in members.keys where !known.contains(key) {
            throw GatewayConfigurationError(key: Self.join(path, key), "unknown key; known keys here: \(known.sorted().joined(separator: ", "))")
        }
        self.members = members
        self.path = path
    }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func value(_ key: String) throws(GatewayConfigurationError) -> JSONValue? {
        guard let value = members[key], value != .null else { return nil }
        return value
    }

    func string(_ key: String) throws(GatewayConfigurationError) -> String? {
        guard let value = try value(key) else { return nil }
        guard case .string(let text) = value else { throw GatewayConfigurationError(key: Self.join(path, key), "must be a string") }
        return text
    }

    func int(_ key: String) throws(GatewayConfigurationError) -> Int? {
        guard let value = try value(key) else { return nil }
        guard case .int(let number) = value, let int = Int(exactly: number) else {
            throw GatewayConfigurationError(key: Self.join(path, key), "must be an integer")
        }
        return int
    }

    func bool(_ key: String) throws(GatewayConfigurationError) -> Bool? {
        guard let value = try value(key) else { return nil }
        guard case .bool(let flag) = value else { throw GatewayConfigurationError(key: Self.join(path, key), "must be true or false") }
        return flag
    }

    func strings(_ key: String) throws(GatewayConfigurationError) -> [String] {
        guard let value = try value(key) else { return [] }
        guard case .array(let items) = value, items.allSatisfy({ $0.stringValue != nil }) else {
            throw GatewayConfigurationError(key: Self.join(path, key), "must be an array of strings")
        }
        return items.compactMap(\.stringValue)
    }

    func object(_ key: String, known: Set<String>) throws(GatewayConfigurationError) -> ConfigObject? {
        guard let value = try value(key) else { return nil }
        return try ConfigObject(value, path: Self.join(path, key), known: known)
    }

    func objects(_ key: String, known: Set<String>) throws(GatewayConfigurationError) -> [ConfigObject] {
        guard let value = try value(key) else { return [] }
        guard case .array(let items) = value else { throw GatewayConfigurationError(key: Self.join(path, key), "must be an array") }
        var result: [ConfigObject] = []
        for (index, item) in items.enumerated() {
            result.append(try ConfigObject(item, path: "\(Self.join(path, key))[\(index)]", known: known))
        }
        return result
    }
}

extension ServerConfiguration {
    /// A configuration from resolved settings, with its authenticator loaded (auth defaults to
    /// ``SwitchyardGateway/AuthConfiguration/embeddedDefault``, read-only, or with publishing too when
    /// ``ServerSettings/allowAnonymousPublish`` is set; an empty `redis` means the embedded engine).
    /// - Throws: ``SwitchyardGateway/GatewayConfigurationError`` when a key cannot be loaded.
    public init(settings: ServerSettings) async throws(GatewayConfigurationError) {
        self.init()
        gateway.host = settings.host ?? gateway.host
        gateway.port = settings.port ?? gateway.port
        engine.redisURL = settings.redis.flatMap { $0.isEmpty ? nil : $0 }
        engine.redisCAFile = settings.redisCA
        engine.spoolFile = settings.spoolFile
        engine.kafkaURL = settings.kafka.flatMap { $0.isEmpty ? nil : $0 }
        engine.mirrorURL = settings.mirror.flatMap { $0.isEmpty ? nil : $0 }
        engine.mirrorAcknowledgement = settings.mirrorAcknowledgement ?? .primary
        postgresURL = settings.postgres.flatMap { $0.isEmpty ? nil : $0 }
        contractsDirectory = settings.contracts
        allowsUnknownChannels = settings.allowUnknownChannels ?? false
        var auth = settings.auth ?? .embeddedDefault
        if settings.allowAnonymousPublish == true {
            guard settings.auth == nil else {
                throw GatewayConfigurationError(
                    key: "allow_anonymous_publish", "applies to the default auth only; with an auth section, set auth.anonymous.grants.publish")
            }
            auth.anonymous.grants.publish = [try! ChannelPattern("*")]
        }
        gateway.authenticator = try await GatewayAuthenticator(configuration: auth)
        gateway.browser = BrowserPolicy(allowedHosts: settings.allowedHosts ?? [], allowedOrigins: settings.allowedOrigins ?? [])
        if let token = settings.metricsToken {
            guard token.utf8.count >= 16 else { throw GatewayConfigurationError(key: "metrics_token", "must be at least 16 bytes") }
            gateway.metricsToken = token
        }
        switch (settings.tlsCert, settings.tlsKey) {
        case (nil, nil): gateway.tls = nil
        case (let cert?, let key?): gateway.tls = try GatewayConfiguration.serverTLS(certificateChainFile: cert, privateKeyFile: key)
        case (nil, _?): throw GatewayConfigurationError(key: "tls_cert", "is required with tls_key (--tls-cert)")
        case (_?, nil): throw GatewayConfigurationError(key: "tls_key", "is required with tls_cert (--tls-key)")
        }
        signingKeys = try settings.signingKeys?.load(purpose: .signing, key: "signing_keys_file")
        encryptionKeys = try settings.encryptionKeys?.load(purpose: .encryption, key: "encryption_keys_file")
        auditFile = settings.auditFile
        if let patterns = settings.wsMaxPatterns { gateway.webSocket.maxPatternsPerSession = patterns }
        if let sessions = settings.wsMaxSessions { gateway.webSocket.maxSessionsPerPrincipal = sessions }
        if let seconds = settings.idleTimeoutSeconds { gateway.idleTimeout = seconds == 0 ? nil : .seconds(seconds) }
    }
}
