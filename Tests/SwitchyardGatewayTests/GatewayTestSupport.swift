import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JSONSchema
import Logging
import NIOCore
import Prometheus
import Switchyard
import SwitchyardGateway
import Testing

/// A gateway over an embedded engine with small test contracts:
/// `trades:fill` (payload `{"qty": integer}`, 1 KiB at most) and `limited:*` (1 event/s, burst 1).
struct TestGateway {
    let router: Switchyard.Router
    let app: GatewayApplication

    static let logger = Logger(label: "gateway-tests")

    static func contracts() throws -> ContractRegistry {
        let schema: JSONValue = [
            "type": "object", "required": ["qty"],
            "properties": ["qty": ["type": "integer"], "note": ["type": "string"]],
        ]
        return try ContractRegistry([
            try Contract(channel: try ChannelPattern("trades:fill"), schema: schema, policy: ChannelPolicy(retentionSeconds: 3600, maxSizeBytes: 1024)),
            try Contract(
                channel: try ChannelPattern("limited:*"), schema: ["type": "object"],
                policy: ChannelPolicy(retentionSeconds: 3600, rateLimit: .init(perSecond: 1, burst: 1))),
        ])
    }

    init(
        allowsUnknownChannels: Bool = false, engine: (any Engine)? = nil,
        webSocket: WebSocketConfiguration = WebSocketConfiguration(), authenticator: any Authenticator = OpenAuthenticator(),
        contracts: ContractRegistry? = nil, metricsRegistry: PrometheusCollectorRegistry? = nil, health: GatewayConfiguration.Health? = nil,
        alerts: AlertConfiguration? = nil, signingKeys: KeyRing? = nil, audit: AuditTrail? = nil, browser: BrowserPolicy = BrowserPolicy(),
        metricsToken: String? = nil, idleTimeout: Duration? = .seconds(60)
    ) throws {
        let engine = engine ?? EmbeddedEngine(logger: Self.logger)
        router = Switchyard.Router(
            contracts: try contracts ?? Self.contracts(), engine: engine,
            configuration: RouterConfiguration(
                source: "gateway-tests", allowsUnknownChannels: allowsUnknownChannels,
                metricsFactory: metricsRegistry.map { PrometheusMetricsFactory.switchyard(registry: $0) }, signingKeys: signingKeys, audit: audit),
            logger: Self.logger)
        app = try buildApplication(
            router: router,
            configuration: GatewayConfiguration(
                port: 0, authenticator: authenticator, browser: browser,
                metricsToken: metricsToken, metricsRefreshInterval: .milliseconds(50), webSocket: webSocket,
                metricsRegistry: metricsRegistry, health: health, alerts: alerts, idleTimeout: idleTimeout),
            logger: Self.logger)
    }

    func test(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        try await app.test(.router, body)
    }

    /// Runs `body` against the gateway listening on a free port, with its services (the router) running.
    /// Fails after `seconds` rather than hanging.
    func live(seconds: Int = 90, _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let app = app
        try await withDeadline(seconds) { try await app.test(.live, body) }
    }
}

/// A request's answer: status, headers, parsed JSON body.
struct Answer {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let json: JSONValue

    var errorType: String? { json["error_type"]?.stringValue }
}

extension TestClientProtocol {
    /// Sends a request; a `POST` with a body declares `Content-Type: application/json` unless
    /// `headers` set a content type.
    func send(_ method: HTTPRequest.Method, _ uri: String, body: String? = nil, headers: HTTPFields = [:]) async throws -> Answer {
        var headers = headers
        if method == .post, body != nil, headers[.contentType] == nil { headers[.contentType] = "application/json" }
        return try await execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }) { response in
            let json = (try? JSONValue(parsing: response.body.readableBytesView)) ?? .null
            return Answer(status: response.status, headers: response.headers, json: json)
        }
    }
}

struct DeadlinePassed: Error {}

/// Runs `body`, cancelling it and throwing ``DeadlinePassed`` after `seconds`.
func withDeadline(_ seconds: Int, _ body: @escaping @Sendable () async throws -> Void) async throws {
    try await withThrowingTaskGroup(of: Bool.self) { group in
        group.addTask {
            try await body()
            return true
        }
        group.addTask {
            // The deadline itself, raced against `body`.
            try await Task.sleep(for: .seconds(seconds))
            return false
        }
        defer { group.cancelAll() }
        guard try await group.next() == true else { throw DeadlinePassed() }
    }
}
