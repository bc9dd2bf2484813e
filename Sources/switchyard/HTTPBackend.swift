import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import JSONSchema

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

    func setState(key: String, value: [UInt8]) async throws(ClientFailure) -> JSONValue {
        try await send("PUT", "/v1/state/\(Self.pathSegment(key))", body: value)
    }

    func state(key: String) async throws(ClientFailure) -> JSONValue {
        try await send("GET", "/v1/state/\(Self.pathSegment(key))")
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
