import JSONSchema
import Switchyard
import SwitchyardGateway

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

    func setState(key: String, value: [UInt8]) async throws(ClientFailure) -> JSONValue {
        try await call { () async throws(SwitchyardError) -> JSONValue in
            let name = try StateKey(key)
            let parsed: JSONValue
            do { parsed = try JSONValue(parsing: value) } catch { throw SwitchyardError(.malformedJSON, "the value is not valid JSON: \(error)") }
            return RouterReports.stateReceipt(try await router.state.set(name, parsed))
        }
    }

    func state(key: String) async throws(ClientFailure) -> JSONValue {
        try await call { () async throws(SwitchyardError) -> JSONValue in
            let name = try StateKey(key)
            guard let value = try await router.state.get(name) else {
                throw SwitchyardError(.notFound, "state key '\(name)' has no value (missing or expired)", details: ["key": .string(name.rawValue)])
            }
            return RouterReports.stateValue(value)
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
        let outcome = await result(within: .milliseconds(Int64(timeout * 1000))) { () async -> Result<JSONValue, SwitchyardError> in
            do throws(SwitchyardError) { return .success(try await body()) } catch { return .failure(error) }
        }
        switch outcome {
        case .success(let value)?: return value
        case .failure(let error)? where error.code == .engineUnavailable: throw .unreachable("cannot reach Redis: \(error.message)")
        case .failure(let error)?: throw .refused(error.body)
        case nil: throw .unreachable("Redis did not answer within \(timeout) seconds")
        }
    }
}
