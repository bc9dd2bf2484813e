import Foundation
import Logging
import Switchyard
import SwitchyardGateway
@testable import SwitchyardServer
import SwitchyardPostgres
import Testing

/// The config file, the environment, and their precedence.
@Suite struct ServerSettingsTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    func parse(_ text: String, directory: String? = nil) throws(GatewayConfigurationError) -> ServerSettings {
        try ServerSettings(parsing: Array(text.utf8), directory: directory)
    }

    /// The error's description for a file.
    func failure(_ text: String) -> String {
        do {
            _ = try parse(text)
            return "parsed"
        } catch {
            return error.description
        }
    }

    @Test func theExampleFileParsesAndLoads() async throws {
        let settings = try ServerSettings(file: Self.repositoryRoot + "/docs/examples/switchyard.json")
        #expect(settings.host == "0.0.0.0")
        #expect(settings.port == 8080)
        #expect(settings.redis == "redis://127.0.0.1:6379")
        #expect(settings.contracts == URL(fileURLWithPath: Self.repositoryRoot + "/docs/examples/../../contracts").path)
        #expect(settings.allowUnknownChannels == false)
        let auth = try #require(settings.auth)
        #expect(auth.jwtKeys.map(\.algorithm) == ["HS256", "ES256"])
        #expect(auth.jwtKeys.map(\.kid) == ["2026-01", "idp"])
        #expect(auth.apiKeys.map(\.name) == ["trade_executor", "risk_engine"])
        #expect(auth.apiKeys[1].grants.mayPublish(to: try ChannelName("risk:calculated")))
        #expect(!auth.apiKeys[1].grants.mayPublish(to: try ChannelName("trades:x")))
        #expect(auth.anonymous.enabled && auth.anonymous.loopbackOnly)
        #expect(auth.anonymous.grants.publish.isEmpty)
        #expect(settings.allowedHosts == ["switchyard.internal", "*.trading.internal"])
        #expect(settings.allowedOrigins == ["https://dashboard.trading.internal"])
        let configuration = try await ServerConfiguration(settings: settings).gateway
        #expect(configuration.port == 8080)
        #expect(configuration.browser == BrowserPolicy(allowedHosts: ["switchyard.internal", "*.trading.internal"], allowedOrigins: ["https://dashboard.trading.internal"]))
    }

    @Test func browserSettingsComeFromEveryLayer() async throws {
        let environment = try ServerSettings(environment: ["SWITCHYARD_ALLOWED_HOSTS": "a.example, b.example", "SWITCHYARD_ALLOWED_ORIGINS": "https://app.example"])
        #expect(environment.allowedHosts == ["a.example", "b.example"])
        #expect(environment.allowedOrigins == ["https://app.example"])
        let file = try ServerSettings(parsing: Array(#"{"allowed_hosts": ["file.example"], "allowed_origins": ["*"]}"#.utf8))
        let merged = file.overridden(by: environment)
        #expect(merged.allowedHosts == ["a.example", "b.example"] && merged.allowedOrigins == ["https://app.example"])
        #expect(file.overridden(by: ServerSettings()).allowedOrigins == ["*"])
        #expect(failure(#"{"allowed_hosts": "x"}"#) == "allowed_hosts: must be an array of strings")
        #expect(try await ServerConfiguration(settings: ServerSettings()).gateway.browser == BrowserPolicy())
    }

    @Test func unknownKeysAndWrongTypesNameTheKey() {
        #expect(failure(#"{"prot": 1}"#).hasPrefix("prot: unknown key"))
        #expect(failure(#"{"port": "80"}"#) == "port: must be an integer")
        #expect(failure(#"{"port": 70000}"#) == "port: must be between 0 and 65535")
        #expect(failure(#"{"host": 1}"#) == "host: must be a string")
        #expect(failure(#"{"allow_unknown_channels": "yes"}"#) == "allow_unknown_channels: must be true or false")
        #expect(failure(#"{"auth": {"anonymus": {}}}"#).hasPrefix("auth.anonymus: unknown key"))
        #expect(failure(#"{"auth": {"api_keys": {}}}"#) == "auth.api_keys: must be an array")
        #expect(failure(#"{"auth": {"api_keys": [{"name": "a", "key": "k", "grants": {"publish": "x"}}]}}"#) == "auth.api_keys[0].grants.publish: must be an array of strings")
        #expect(failure(#"{"auth": {"api_keys": [{"name": "a", "key": "k", "grants": {"publish": [""]}}]}}"#).hasPrefix("auth.api_keys[0].grants.publish[0]:"))
        #expect(failure(#"{"auth": {"api_keys": [{"name": "a"}]}}"#) == "auth.api_keys[0].key: is required")
        #expect(failure(#"{"auth": {"jwt_keys": [{"algorithm": "RS256"}]}}"#).hasPrefix("auth.jwt_keys[0].algorithm: must be"))
        #expect(failure(#"{"auth": {"jwt_keys": [{"algorithm": "HS256"}]}}"#) == "auth.jwt_keys[0].secret: is required for HS256")
        #expect(failure(#"{"auth": {"jwt_keys": [{"algorithm": "ES256", "secret": "x"}]}}"#).hasPrefix("auth.jwt_keys[0].public_key_pem: is required"))
        #expect(failure(#"{"auth": {"anonymous": {"enabled": 1}}}"#) == "auth.anonymous.enabled: must be true or false")
        #expect(failure("[]") == "the config file must hold a JSON object")
        #expect(failure("{").hasPrefix("the config file is not valid JSON"))
    }

    @Test func signingAndEncryptionKeysAndTheAuditFileComeFromTheFileOrTheEnvironment() async throws {
        let folder = NSTemporaryDirectory() + "settings-keys-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let secret = Data(repeating: 7, count: 32).base64EncodedString()
        try "new:\(secret)\nold:\(secret)\n".write(toFile: folder + "/signing.keys", atomically: true, encoding: .utf8)
        try #"{"signing_keys_file": "signing.keys", "audit_file": "audit.jsonl"}"#.write(toFile: folder + "/switchyard.json", atomically: true, encoding: .utf8)
        let file = try ServerSettings(file: folder + "/switchyard.json")
        #expect(file.signingKeys == .file(folder + "/signing.keys") && file.auditFile == folder + "/audit.jsonl")
        let environment = try ServerSettings(environment: ["SWITCHYARD_ENCRYPTION_KEYS": "e1:\(secret)", "SWITCHYARD_SIGNING_KEYS_FILE": "/elsewhere"])
        #expect(environment.signingKeys == .file("/elsewhere"))
        let merged = file.overridden(by: ServerSettings(encryptionKeys: environment.encryptionKeys))
        let configuration = try await ServerConfiguration(settings: merged)
        #expect(configuration.signingKeys?.ids == ["new", "old"] && configuration.encryptionKeys?.ids == ["e1"])
        #expect(configuration.auditFile == folder + "/audit.jsonl")
        #expect(!configuration.description.contains(secret) && configuration.description.contains("signing keys new (current), old"))
        #expect("\(merged.encryptionKeys!)" == "SWITCHYARD_ENCRYPTION_KEYS", "a key source prints where it came from, not the keys")
        #expect(throws: GatewayConfigurationError.self) {
            try ServerSettings(environment: ["SWITCHYARD_SIGNING_KEYS": "k:\(secret)", "SWITCHYARD_SIGNING_KEYS_FILE": "/x"])
        }
        do {
            _ = try await ServerConfiguration(settings: ServerSettings(encryptionKeys: .text("e1:" + Data(repeating: 1, count: 16).base64EncodedString(), origin: "SWITCHYARD_ENCRYPTION_KEYS")))
            Issue.record("a 16-byte AES key was accepted")
        } catch {
            #expect(error.description == "encryption_keys_file: SWITCHYARD_ENCRYPTION_KEYS: encryption key 'e1' (16 bytes) must have exactly 32 bytes", "\(error.description)")
        }
    }

    @Test func theAuditGoesToPostgreSQLWhenItIsConfiguredElseToTheFile() throws {
        let logger = TestGateway.logger
        #expect(try ServerConfiguration().auditTrail(logger: logger) == nil)
        var configuration = ServerConfiguration()
        configuration.auditFile = "/tmp/audit.jsonl"
        #expect(try configuration.auditTrail(logger: logger)?.sink is AuditFile)
        configuration.postgresURL = "postgres://app@127.0.0.1:5432/trading"
        #expect(try configuration.auditTrail(logger: logger)?.sink is PostgresAuditSink)
    }

    @Test func anES256KeyCanComeFromAPEMFileNextToTheConfig() async throws {
        let folder = NSTemporaryDirectory() + "settings-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try TestAuth.ecKey.publicKey.pemRepresentation.write(toFile: folder + "/idp.pem", atomically: true, encoding: .utf8)
        try #"{"auth": {"jwt_keys": [{"algorithm": "ES256", "public_key_file": "idp.pem"}]}}"#.write(toFile: folder + "/switchyard.json", atomically: true, encoding: .utf8)
        let settings = try ServerSettings(file: folder + "/switchyard.json")
        let configuration = try await ServerConfiguration(settings: settings).gateway
        let token = try await TestAuth.es256(TestAuth.claims("idp-user", subscribe: ["*"]), kid: nil)
        let principal = try await configuration.authenticator.principal(for: TestAuth.request(headers: TestAuth.bearer(token)), remoteAddress: nil)
        #expect(principal.subject == "idp-user")
        try #"{"auth": {"jwt_keys": [{"algorithm": "ES256", "public_key_file": "missing.pem"}]}}"#.write(toFile: folder + "/broken.json", atomically: true, encoding: .utf8)
        #expect(throws: GatewayConfigurationError.self) { try ServerSettings(file: folder + "/broken.json") }
    }

    @Test func aMissingFileIsNamed() {
        #expect(throws: GatewayConfigurationError.self) { try ServerSettings(file: "/nonexistent/switchyard.json") }
    }

    @Test func anonymousDefaultsWhenAuthIsGiven() throws {
        let settings = try parse(#"{"auth": {"api_keys": [{"name": "a", "key": "k"}]}}"#)
        #expect(settings.auth?.anonymous.enabled == false)
        #expect(settings.auth?.apiKeys.first?.grants == Grants.none)
        let anonymous = try parse(#"{"auth": {"anonymous": {"enabled": true}}}"#)
        #expect(anonymous.auth?.anonymous.loopbackOnly == true)
        #expect(anonymous.auth?.anonymous.grants == Grants.none, "an anonymous section without grants grants nothing")
    }

    @Test func flagsWinOverTheEnvironmentWhichWinsOverTheFile() throws {
        let file = try parse(#"{"host": "10.0.0.1", "port": 9000, "redis": "redis://file", "contracts": "c", "allow_unknown_channels": true}"#, directory: "/etc/switchyard")
        #expect(file.contracts == "/etc/switchyard/c")
        let environment = try ServerSettings(environment: ["SWITCHYARD_PORT": "9100", "REDIS_URL": "redis://env", "SWITCHYARD_HOST": ""])
        let flags = ServerSettings(port: 9200)
        let resolved = file.overridden(by: environment).overridden(by: flags)
        #expect(resolved.host == "10.0.0.1")
        #expect(resolved.port == 9200)
        #expect(resolved.redis == "redis://env")
        #expect(resolved.contracts == "/etc/switchyard/c")
        #expect(resolved.allowUnknownChannels == true)
        #expect(file.overridden(by: environment).port == 9100)
    }

    @Test func anEmptyRedisFlagPicksTheEmbeddedEngine() async throws {
        let file = try parse(#"{"redis": "redis://127.0.0.1:6379"}"#)
        let configuration = try await ServerConfiguration(settings: file.overridden(by: ServerSettings(redis: "")))
        #expect(configuration.engine.redisURL == nil)
        #expect(try await ServerConfiguration(settings: file).engine.redisURL == "redis://127.0.0.1:6379")
    }

    @Test func theKafkaEngineAndTheMirrorComeFromEveryLayer() async throws {
        let file = try parse(#"{"redis": "redis://r:6379", "mirror": "kafka://k:9092", "mirror_ack": "both"}"#)
        let engine = try await ServerConfiguration(settings: file).engine
        #expect(engine.redisURL == "redis://r:6379" && engine.mirrorURL == "kafka://k:9092" && engine.mirrorAcknowledgement == .both)
        let environment = try ServerSettings(environment: ["SWITCHYARD_KAFKA": "kafka://a:1,b:2", "SWITCHYARD_MIRROR_ACK": "primary"])
        let onKafka = try await ServerConfiguration(settings: file.overridden(by: environment).overridden(by: ServerSettings(redis: "", mirror: ""))).engine
        #expect(onKafka.kafkaURL == "kafka://a:1,b:2" && onKafka.redisURL == nil && onKafka.mirrorURL == nil)
        #expect(onKafka.mirrorAcknowledgement == .primary)
        #expect(failure(#"{"mirror_ack": "sometimes"}"#) == "mirror_ack: must be \"primary\" or \"both\"")
        #expect(throws: GatewayConfigurationError.self) { try ServerSettings(environment: ["SWITCHYARD_MIRROR_ACK": "always"]) }
        // Redis and Kafka as two primaries is refused when the engine is made.
        let twoEngines = EngineSettings(redisURL: "redis://r:6379", kafkaURL: "kafka://k:9092")
        #expect(throws: EngineSettingsError.self) { try twoEngines.makeEngine(logger: Logger(label: "test")) }
    }

    @Test func theConnectionLimitsComeFromTheFileTheEnvironmentAndFlags() async throws {
        let defaults = try await ServerConfiguration(settings: ServerSettings()).gateway
        #expect(defaults.webSocket.maxPatternsPerSession == 100 && defaults.webSocket.maxSessionsPerPrincipal == 32)
        #expect(defaults.idleTimeout == .seconds(60))

        let file = try parse(#"{"ws_max_patterns": 10, "ws_max_sessions": 4, "idle_timeout_seconds": 30}"#)
        let environment = try ServerSettings(environment: ["SWITCHYARD_WS_MAX_SESSIONS": "8", "SWITCHYARD_IDLE_TIMEOUT": "0"])
        let resolved = file.overridden(by: environment).overridden(by: ServerSettings(wsMaxPatterns: 20))
        let configuration = try await ServerConfiguration(settings: resolved).gateway
        #expect(configuration.webSocket.maxPatternsPerSession == 20)
        #expect(configuration.webSocket.maxSessionsPerPrincipal == 8)
        #expect(configuration.idleTimeout == nil, "0 turns the idle timeout off")
        #expect(try await ServerConfiguration(settings: file).gateway.idleTimeout == .seconds(30))

        #expect(failure(#"{"ws_max_patterns": 0}"#) == "ws_max_patterns: must be at least 1")
        #expect(failure(#"{"ws_max_sessions": "many"}"#) == "ws_max_sessions: must be an integer")
        #expect(failure(#"{"idle_timeout_seconds": -1}"#) == "idle_timeout_seconds: must be at least 0")
        #expect(throws: GatewayConfigurationError.self) { try ServerSettings(environment: ["SWITCHYARD_WS_MAX_PATTERNS": "0"]) }
        #expect(throws: GatewayConfigurationError.self) { try ServerSettings(environment: ["SWITCHYARD_IDLE_TIMEOUT": "soon"]) }
    }

    @Test func environmentValuesAreChecked() {
        #expect(throws: GatewayConfigurationError.self) { try ServerSettings(environment: ["SWITCHYARD_PORT": "http"]) }
        #expect(throws: GatewayConfigurationError.self) { try ServerSettings(environment: ["SWITCHYARD_ALLOW_UNKNOWN_CHANNELS": "maybe"]) }
        #expect((try? ServerSettings(environment: ["SWITCHYARD_ALLOW_UNKNOWN_CHANNELS": "1"]))?.allowUnknownChannels == true)
    }

    @Test func postgresComesFromEveryLayerAndAnEmptyValueTurnsItOff() async throws {
        let file = try parse(#"{"postgres": "postgres://app@db:5432/trading"}"#)
        #expect(file.postgres == "postgres://app@db:5432/trading")
        #expect(try await ServerConfiguration(settings: file).postgresURL == "postgres://app@db:5432/trading")
        let environment = try ServerSettings(environment: ["POSTGRES_URL": "postgres://app@other:5432/trading"])
        #expect(try await ServerConfiguration(settings: file.overridden(by: environment)).postgresURL == "postgres://app@other:5432/trading")
        #expect(try await ServerConfiguration(settings: file.overridden(by: ServerSettings(postgres: ""))).postgresURL == nil)
        #expect(try ServerSettings(environment: ["POSTGRES_URL": ""]).postgres == nil, "an empty variable counts as unset")
    }

    @Test func resolvedSettingsSayWhereEachValueCameFrom() throws {
        let folder = NSTemporaryDirectory() + "resolved-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try #"{"port": 9100, "spool_file": "serve.spool", "metrics_token": "0123456789abcdef-secret"}"#
            .write(toFile: folder + "/switchyard.json", atomically: true, encoding: .utf8)
        let resolved = try ResolvedSettings.resolve(
            configFile: nil, environment: ["SWITCHYARD_CONFIG": folder + "/switchyard.json", "SWITCHYARD_PORT": "9300", "REDIS_URL": "redis://u:pw-secret@h:1"],
            flags: ServerSettings(host: "0.0.0.0"))
        #expect(resolved.layers.map(\.source) == ["file \(folder)/switchyard.json", "environment", "flags"])
        #expect(resolved.settings.port == 9300 && resolved.settings.host == "0.0.0.0" && resolved.settings.spoolFile == folder + "/serve.spool")
        #expect(resolved.source(of: "port") == "environment SWITCHYARD_PORT")
        #expect(resolved.source(of: "host") == "flags")
        #expect(resolved.source(of: "spool_file") == "file \(folder)/switchyard.json")
        #expect(resolved.source(of: "ws_max_patterns") == "default")
        let report = resolved.report()
        #expect(!report.contains("pw-secret") && !report.contains("0123456789abcdef-secret"), "\(report)")
        #expect(report.contains("redis://u:***@h:1"))
        #expect(report.split(separator: "\n").count == ResolvedSettings.entries.count)
        let badVariable = #expect(throws: GatewayConfigurationError.self) {
            try ResolvedSettings.resolve(configFile: nil, environment: ["SWITCHYARD_PORT": "eighty"], flags: ServerSettings())
        }
        #expect(badVariable?.key == "SWITCHYARD_PORT")
    }

    @Test func theHelpListsEveryVariableTheEnvironmentLayerReads() throws {
        // Each variable the help names changes the settings when set to a value of its kind.
        let samples: [String: String] = ["SWITCHYARD_PORT": "1", "SWITCHYARD_ALLOW_UNKNOWN_CHANNELS": "true", "SWITCHYARD_ALLOW_ANONYMOUS_PUBLISH": "true",
            "SWITCHYARD_WS_MAX_PATTERNS": "1", "SWITCHYARD_WS_MAX_SESSIONS": "1", "SWITCHYARD_IDLE_TIMEOUT": "1",
            "SWITCHYARD_SIGNING_KEYS": "k:x", "SWITCHYARD_ENCRYPTION_KEYS": "k:x", "SWITCHYARD_MIRROR_ACK": "both"]
        for variable in ResolvedSettings.environmentVariables where variable != "SWITCHYARD_CONFIG" {
            let settings = try ServerSettings(environment: [variable: samples[variable] ?? "value"])
            let set = ResolvedSettings.entries.contains { $0.value(settings) != nil }
            #expect(set, "\(variable) is listed but not read")
        }
    }
}
