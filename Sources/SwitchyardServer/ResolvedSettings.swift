import Foundation
import Switchyard
import SwitchyardGateway

/// The process's environment variables, read the one way every command reads them: a variable
/// set to the empty string counts as unset.
public struct EnvironmentVariables: Sendable {
    /// Every variable, as the process got them.
    public let values: [String: String]

    /// Wraps `values`; by default the process's own environment.
    public init(_ values: [String: String] = ProcessInfo.processInfo.environment) {
        self.values = values
    }

    /// The variable's value, or `nil` when it is unset or empty.
    public subscript(_ name: String) -> String? {
        values[name].flatMap { $0.isEmpty ? nil : $0 }
    }
}

/// Switchyard's settings for one process, resolved once from their layers: the defaults, the
/// config file (`--config` or `SWITCHYARD_CONFIG`), the environment, and the command's flags, each
/// overriding the ones before it. Every command builds one with
/// ``resolve(configFile:environment:flags:)`` and reads its values from ``settings``;
/// ``report()`` says for each key what it is and where it came from (`serve --print-config`).
public struct ResolvedSettings: Sendable {
    /// One layer and where it came from.
    public struct Layer: Sendable {
        /// Where the layer came from: `file PATH`, `environment`, `flags`, or a flag that sets
        /// several keys at once (`--demo`).
        public var source: String
        /// The keys this layer sets.
        public var settings: ServerSettings

        /// Creates a layer.
        public init(source: String, settings: ServerSettings) {
            self.source = source
            self.settings = settings
        }
    }

    /// The layers, the lowest precedence first.
    public private(set) var layers: [Layer]
    /// The settings every layer gives, the later layers winning.
    public private(set) var settings: ServerSettings

    /// Resolves the settings of a process.
    /// - Parameters:
    ///   - configFile: The config file a flag names; `nil` reads `SWITCHYARD_CONFIG`, and without
    ///     it there is no file layer.
    ///   - environment: The process's environment.
    ///   - flags: What the command's flags set.
    /// - Throws: ``SwitchyardGateway/GatewayConfigurationError`` naming the key or variable at fault.
    public static func resolve(
        configFile: String?, environment: [String: String], flags: ServerSettings
    ) throws(GatewayConfigurationError) -> ResolvedSettings {
        var layers: [Layer] = []
        if let path = configFile ?? EnvironmentVariables(environment)["SWITCHYARD_CONFIG"] {
            layers.append(Layer(source: "file \(path)", settings: try ServerSettings(file: path)))
        }
        layers.append(Layer(source: "environment", settings: try ServerSettings(environment: environment)))
        layers.append(Layer(source: "flags", settings: flags))
        return ResolvedSettings(layers: layers)
    }

    /// Settings made of `layers`, the lowest precedence first.
    public init(layers: [Layer]) {
        self.layers = []
        self.settings = ServerSettings()
        for layer in layers { adding(layer) }
    }

    /// Adds a layer above the others.
    public mutating func adding(_ layer: Layer) {
        layers.append(layer)
        settings = settings.overridden(by: layer.settings)
    }

    /// Where `key` (a config-file key, such as `redis` or `port`) got its value: the source of the
    /// last layer that sets it, `default` when none does.
    public func source(of key: String) -> String {
        guard let entry = Self.entries.first(where: { $0.key == key }) else { return "default" }
        return source(of: entry)
    }

    private func source(of entry: Entry) -> String {
        guard let layer = layers.last(where: { entry.value($0.settings) != nil }) else { return "default" }
        if layer.source == "environment", let variable = entry.variable { return "environment \(variable)" }
        return layer.source
    }

    /// One line per key: its name, its value (passwords, tokens and keys masked), and where it
    /// came from. Safe to print and log.
    public func report() -> String {
        let width = Self.entries.map(\.key.count).max() ?? 0
        return Self.entries.map { entry in
            let value = entry.value(settings) ?? entry.fallback
            let padded = entry.key.padding(toLength: width, withPad: " ", startingAt: 0)
            return "\(padded)  \(value)  (\(source(of: entry)))"
        }.joined(separator: "\n")
    }

    /// A key of the settings: its config-file name, its environment variable, its value as
    /// printed (masked where secret), and what applies when no layer sets it.
    struct Entry: Sendable {
        let key: String
        let variable: String?
        let value: @Sendable (ServerSettings) -> String?
        let fallback: String
    }

    static let entries: [Entry] = [
        Entry(key: "host", variable: "SWITCHYARD_HOST", value: { $0.host }, fallback: "127.0.0.1"),
        Entry(key: "port", variable: "SWITCHYARD_PORT", value: { $0.port.map(String.init) }, fallback: "8080"),
        Entry(key: "redis", variable: "REDIS_URL", value: { $0.redis.map { $0.isEmpty ? "(embedded engine)" : Redaction.url($0) } }, fallback: "(embedded engine)"),
        Entry(key: "redis_ca", variable: "SWITCHYARD_REDIS_CA", value: { $0.redisCA }, fallback: "(the system's roots)"),
        Entry(key: "kafka", variable: "SWITCHYARD_KAFKA", value: { $0.kafka.map { $0.isEmpty ? "(none)" : Redaction.url($0) } }, fallback: "(none)"),
        Entry(key: "mirror", variable: "SWITCHYARD_MIRROR", value: { $0.mirror.map { $0.isEmpty ? "(none)" : Redaction.url($0) } }, fallback: "(none: no dual-write)"),
        Entry(key: "mirror_ack", variable: "SWITCHYARD_MIRROR_ACK", value: { $0.mirrorAcknowledgement?.rawValue }, fallback: "primary"),
        Entry(key: "spool_file", variable: "SWITCHYARD_SPOOL", value: { $0.spoolFile }, fallback: "(none)"),
        Entry(key: "postgres", variable: "POSTGRES_URL", value: { $0.postgres.map { $0.isEmpty ? "(none)" : Redaction.url($0) } }, fallback: "(none)"),
        Entry(key: "contracts", variable: "SWITCHYARD_CONTRACTS", value: { $0.contracts }, fallback: "(the shipped contracts)"),
        Entry(key: "allow_unknown_channels", variable: "SWITCHYARD_ALLOW_UNKNOWN_CHANNELS", value: { $0.allowUnknownChannels.map(String.init) }, fallback: "false"),
        Entry(key: "signing_keys_file", variable: "SWITCHYARD_SIGNING_KEYS", value: { $0.signingKeys.map(\.description) }, fallback: "(none)"),
        Entry(key: "encryption_keys_file", variable: "SWITCHYARD_ENCRYPTION_KEYS", value: { $0.encryptionKeys.map(\.description) }, fallback: "(none)"),
        Entry(key: "audit_file", variable: "SWITCHYARD_AUDIT_FILE", value: { $0.auditFile }, fallback: "(none; PostgreSQL's when postgres is set)"),
        Entry(key: "otlp_endpoint", variable: "SWITCHYARD_OTLP_ENDPOINT", value: { $0.otlpEndpoint.map(Redaction.url) }, fallback: "(none: no OTLP export)"),
        Entry(key: "tls_cert", variable: "SWITCHYARD_TLS_CERT", value: { $0.tlsCert }, fallback: "(none: plain HTTP)"),
        Entry(key: "tls_key", variable: "SWITCHYARD_TLS_KEY", value: { $0.tlsKey }, fallback: "(none)"),
        Entry(key: "allowed_hosts", variable: "SWITCHYARD_ALLOWED_HOSTS", value: { $0.allowedHosts.map { $0.joined(separator: ",") } }, fallback: "(IP literals and localhost only)"),
        Entry(key: "allowed_origins", variable: "SWITCHYARD_ALLOWED_ORIGINS", value: { $0.allowedOrigins.map { $0.joined(separator: ",") } }, fallback: "(the gateway's own and loopback)"),
        Entry(key: "allow_anonymous_publish", variable: "SWITCHYARD_ALLOW_ANONYMOUS_PUBLISH", value: { $0.allowAnonymousPublish.map(String.init) }, fallback: "false"),
        Entry(key: "metrics_token", variable: "SWITCHYARD_METRICS_TOKEN", value: { $0.metricsToken.map { _ in "*** (set)" } }, fallback: "(none: /metrics is open)"),
        Entry(key: "ws_max_patterns", variable: "SWITCHYARD_WS_MAX_PATTERNS", value: { $0.wsMaxPatterns.map(String.init) }, fallback: "100"),
        Entry(key: "ws_max_sessions", variable: "SWITCHYARD_WS_MAX_SESSIONS", value: { $0.wsMaxSessions.map(String.init) }, fallback: "32"),
        Entry(key: "idle_timeout_seconds", variable: "SWITCHYARD_IDLE_TIMEOUT", value: { $0.idleTimeoutSeconds.map(String.init) }, fallback: "60"),
        Entry(key: "auth", variable: nil, value: { $0.auth.map(Self.summary) }, fallback: "(loopback clients read without credentials; everyone else gets 401)"),
        Entry(key: "alerts", variable: nil, value: { settings in
            guard settings.alerts != nil || settings.alertsEnabled != nil else { return nil }
            return settings.alertsEnabled == false ? "off" : "on, with the file's rules"
        }, fallback: "on, default rules"),
    ]

    /// The variables the environment layer reads, for help texts.
    public static var environmentVariables: [String] {
        entries.compactMap(\.variable).flatMap { variable in
            variable.hasSuffix("_KEYS") ? [variable, variable + "_FILE"] : [variable]
        } + ["SWITCHYARD_CONFIG"]
    }

    /// The auth section without its secrets: how many keys of each kind, and who is anonymous.
    static func summary(_ auth: AuthConfiguration) -> String {
        var parts = ["\(auth.jwtKeys.count) JWT key(s)", "\(auth.apiKeys.count) API key(s)"]
        if auth.anonymous.enabled { parts.append(auth.anonymous.loopbackOnly ? "anonymous on loopback" : "anonymous from anywhere") }
        if let issuer = auth.issuer { parts.append("issuer \(issuer)") }
        if let audience = auth.audience { parts.append("audience \(audience)") }
        return parts.joined(separator: ", ")
    }
}
