import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import JSONSchema
import Logging
import RedisClient
import Switchyard
import SwitchyardGateway
import SwitchyardRedis

/// Where the client subcommands (`publish`, `replay`, `lag`, `dlq`) send their requests: a running
/// server over the HTTP API, or Redis directly.
struct ClientOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The server's URL (default: SWITCHYARD_SERVER, else http://127.0.0.1:8080).", valueName: "URL"))
    var server: String?
    @Option(help: ArgumentHelp("Go straight to Redis at this URL instead of a server.", valueName: "URL"))
    var redis: String?
    @Option(help: ArgumentHelp("A bearer token or API key for the server (default: SWITCHYARD_TOKEN).", valueName: "TOKEN"))
    var token: String?
    @Option(help: ArgumentHelp("Seconds to wait for the server or Redis before giving up (exit 3).", valueName: "SECONDS"))
    var timeout: Double = 30
    @Option(name: .long, help: ArgumentHelp("With --redis: the contracts folder (default: the shipped contracts).", valueName: "DIR"))
    var contracts: String?
    @Flag(help: "With --redis: accept publishes to channels no contract covers.")
    var allowUnknownChannels = false

    func validate() throws {
        if server != nil && redis != nil { throw ValidationError("give --server or --redis, not both") }
        if timeout <= 0 { throw ValidationError("--timeout must be positive") }
    }

    /// The backend these options name.
    func backend() throws -> any ClientBackend {
        let environment = ProcessInfo.processInfo.environment
        if let redis {
            var configuration: RedisConfiguration
            do { configuration = try RedisConfiguration(url: redis) } catch { throw ValidationError("--redis: \(error)") }
            configuration.connectTimeout = .milliseconds(Int64(timeout * 1000))
            let logger = Logger(label: "switchyard-cli")
            let registry: ContractRegistry
            do { registry = try contracts.map { try ContractRegistry.load(from: $0) } ?? ContractRegistry.shipped() } catch {
                throw ValidationError("the contracts cannot be loaded:\n\(error)")
            }
            let engine = RedisEngine(client: try RedisClient(configuration: configuration, logger: logger), configuration: .init(failFast: true), logger: logger)
            let router = Switchyard.Router(
                contracts: registry, engine: engine,
                configuration: RouterConfiguration(source: "switchyard-cli", allowsUnknownChannels: allowUnknownChannels), logger: logger)
            return RouterBackend(router: router, timeout: timeout)
        }
        let text = server ?? environment["SWITCHYARD_SERVER"].flatMap { $0.isEmpty ? nil : $0 } ?? "http://127.0.0.1:8080"
        guard let url = URL(string: text), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
            throw ValidationError("--server must be an http:// or https:// URL, not '\(text)'")
        }
        return HTTPBackend(base: url, token: token ?? environment["SWITCHYARD_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }, timeout: timeout)
    }
}

/// Why a client command failed; ``run(_:)`` turns it into output and an exit code.
enum ClientFailure: Error {
    /// The server or router refused, with the structured error (exit 1).
    case refused(JSONValue)
    /// The server or Redis could not be reached (exit 3).
    case unreachable(String)
}

/// The operations of the client subcommands, over HTTP or a router.
protocol ClientBackend: Sendable {
    func publish(channel: String, payload: [UInt8], eventID: String?) async throws(ClientFailure) -> JSONValue
    func replay(channel: String, since: String?, until: String?, limit: Int?) async throws(ClientFailure) -> JSONValue
    func groups(channel: String?) async throws(ClientFailure) -> JSONValue
    func deadLetters(channel: String, limit: Int?) async throws(ClientFailure) -> JSONValue
    func actOnDeadLetters(channel: String, action: String, ids: [String]) async throws(ClientFailure) -> JSONValue
}

/// Runs a client operation: prints a refusal's structured error on standard output and its
/// message on standard error and exits 1; exits 3 when the server or Redis cannot be reached.
func runClient(_ body: () async throws(ClientFailure) -> Void) async throws {
    do {
        try await body()
    } catch {
        switch error {
        case .refused(let body):
            print(body.serialized())
            printError(body["message"]?.stringValue ?? "refused")
            throw ExitCode(1)
        case .unreachable(let reason):
            printError(reason)
            throw ExitCode(3)
        }
    }
}

/// Writes `error: …` to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
}

/// The client over the HTTP API of a running server.
struct HTTPBackend: ClientBackend {
    let base: URL
    let token: String?
    let timeout: Double

    func publish(channel: String, payload: [UInt8], eventID: String?) async throws(ClientFailure) -> JSONValue {
        try await send("POST", "/v1/channels/\(Self.pathSegment(channel))/events", query: ["event_id": eventID], body: payload)
    }

    func replay(channel: String, since: String?, until: String?, limit: Int?) async throws(ClientFailure) -> JSONValue {
        try await send("GET", "/v1/replay", query: ["channel": channel, "since": since, "until": until, "limit": limit.map { String($0) }])
    }

    func groups(channel: String?) async throws(ClientFailure) -> JSONValue {
        try await send("GET", "/v1/groups", query: ["channel": channel])
    }

    func deadLetters(channel: String, limit: Int?) async throws(ClientFailure) -> JSONValue {
        try await send("GET", "/v1/dlq/\(Self.pathSegment(channel))", query: ["limit": limit.map { String($0) }])
    }

    func actOnDeadLetters(channel: String, action: String, ids: [String]) async throws(ClientFailure) -> JSONValue {
        let body: JSONValue = ["action": .string(action), "ids": .array(ids.map { .string($0) })]
        return try await send("POST", "/v1/dlq/\(Self.pathSegment(channel))", body: Array(body.serialized().utf8))
    }

    static func pathSegment(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_.:~*"))) ?? text
    }

    private func send(_ method: String, _ path: String, query: [String: String?] = [:], body: [UInt8]? = nil) async throws(ClientFailure) -> JSONValue {
        guard var components = URLComponents(url: base, resolvingAgainstBaseURL: false) else { throw .unreachable("bad server URL \(base)") }
        components.percentEncodedPath = (components.percentEncodedPath.hasSuffix("/") ? String(components.percentEncodedPath.dropLast()) : components.percentEncodedPath) + path
        let items = query.sorted { $0.key < $1.key }.compactMap { item in item.value.map { URLQueryItem(name: item.key, value: $0) } }
        if !items.isEmpty { components.queryItems = items }
        guard let url = components.url else { throw .unreachable("bad server URL \(base)") }
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.httpMethod = method
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body {
            request.httpBody = Data(body)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let data: Data
        let response: URLResponse
        do { (data, response) = try await URLSession.shared.data(for: request) } catch {
            throw .unreachable("cannot reach the server at \(base.absoluteString): \(error.localizedDescription)")
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        let json = try? JSONValue(parsing: Array(data))
        guard (200..<300).contains(status) else {
            if let json, json["error_type"] != nil { throw .refused(json) }
            throw .refused(["error_type": "http_error", "message": .string("the server answered HTTP \(status)"), "details": ["status": .int(Int64(status))]])
        }
        guard let json else { throw .refused(["error_type": "http_error", "message": "the server's answer is not JSON", "details": [:]]) }
        return json
    }
}

/// The client straight on Redis: a router on the Redis engine, answering with the documents the
/// HTTP API would (``RouterReports``).
struct RouterBackend: ClientBackend {
    let router: Switchyard.Router
    let timeout: Double

    func publish(channel: String, payload: [UInt8], eventID: String?) async throws(ClientFailure) -> JSONValue {
        try await call { () async throws(SwitchyardError) -> JSONValue in
            let name = try ChannelName(channel)
            var id: EventID?
            if let eventID {
                guard let parsed = EventID(eventID) else { throw SwitchyardError.validation(missing: [], invalid: [("event_id", "must be a UUID")], message: "Invalid request") }
                id = parsed
            }
            let value: JSONValue
            do { value = try JSONValue(parsing: payload) } catch { throw SwitchyardError(.malformedJSON, "the payload is not valid JSON: \(error)") }
            return RouterReports.receipt(try await router.publish(to: name, payload: value, eventID: id))
        }
    }

    func replay(channel: String, since: String?, until: String?, limit: Int?) async throws(ClientFailure) -> JSONValue {
        try await call { () async throws(SwitchyardError) -> JSONValue in
            let pattern = try ChannelPattern(channel)
            let events = try await router.replay(
                pattern, since: try Self.bound(since, "since") ?? .beginning, until: try Self.bound(until, "until"), limit: limit ?? 1000)
            return RouterReports.replay(events)
        }
    }

    func groups(channel: String?) async throws(ClientFailure) -> JSONValue {
        try await call { () async throws(SwitchyardError) -> JSONValue in try await RouterReports(router: router).groups(try ChannelPattern(channel ?? "*")) }
    }

    func deadLetters(channel: String, limit: Int?) async throws(ClientFailure) -> JSONValue {
        try await call { () async throws(SwitchyardError) -> JSONValue in try await RouterReports(router: router).deadLetters(try ChannelName(channel), limit: limit ?? 1000) }
    }

    func actOnDeadLetters(channel: String, action: String, ids: [String]) async throws(ClientFailure) -> JSONValue {
        try await call { () async throws(SwitchyardError) -> JSONValue in
            try await RouterReports(router: router).actOnDeadLetters(try ChannelName(channel), action: action, ids: ids.map(StreamPosition.init))
        }
    }

    /// A replay bound as the HTTP API takes it: a sequence number or an RFC 3339 time.
    static func bound(_ text: String?, _ name: String) throws(SwitchyardError) -> ReplayBound? {
        guard let text, !text.isEmpty else { return nil }
        if let number = Int64(text), number >= 0 { return .sequence(number) }
        if let time = Timestamp(rfc3339: text) { return .time(time) }
        throw SwitchyardError(.badRequest, "--\(name) must be a sequence number or an RFC 3339 time", details: ["parameter": .string(name)])
    }

    /// Runs a router call within the timeout; `engine_unavailable` and the timeout mean Redis
    /// cannot be reached.
    private func call(_ body: @escaping @Sendable () async throws(SwitchyardError) -> JSONValue) async throws(ClientFailure) -> JSONValue {
        let outcome = await withTaskGroup(of: Result<JSONValue, SwitchyardError>?.self) { group in
            group.addTask { () async -> Result<JSONValue, SwitchyardError>? in
                do throws(SwitchyardError) { return .success(try await body()) } catch { return .failure(error) }
            }
            group.addTask { [timeout] in
                try? await Task.sleep(for: .milliseconds(Int64(timeout * 1000)))
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        switch outcome {
        case .success(let value)?: return value
        case .failure(let error)? where error.code == .engineUnavailable: throw .unreachable("cannot reach Redis: \(error.message)")
        case .failure(let error)?: throw .refused(error.body)
        case nil: throw .unreachable("Redis did not answer within \(timeout) seconds")
        }
    }
}
