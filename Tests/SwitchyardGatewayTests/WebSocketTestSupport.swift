import HTTPTypes
import Hummingbird
import HummingbirdTesting
import HummingbirdWSClient
import HummingbirdWSTesting
import JSONSchema
import NIOCore
import Switchyard
import SwitchyardGateway
import Testing

/// One side of a `/v1/ws` conversation: sends frames, reads the server's frames as JSON.
struct Conversation {
    let outbound: WebSocketOutboundWriter
    var messages: WebSocketInboundMessageStream.AsyncIterator

    init(_ inbound: WebSocketInboundStream, _ outbound: WebSocketOutboundWriter) {
        self.outbound = outbound
        messages = inbound.messages(maxSize: 8 << 20).makeAsyncIterator()
    }

    func send(_ text: String) async throws {
        try await outbound.write(.text(text))
    }

    /// The next frame that is not a heartbeat; `nil` when the connection closed.
    mutating func next() async throws -> JSONValue? {
        while let message = try await messages.next() {
            guard case .text(let text) = message else { continue }
            let frame = try JSONValue(parsing: Array(text.utf8))
            if frame["type"] == "heartbeat" { continue }
            return frame
        }
        return nil
    }

    /// The next frame, which must exist.
    mutating func frame() async throws -> JSONValue {
        guard let frame = try await next() else { throw ConversationEnded() }
        return frame
    }

    /// The next `count` event frames' envelopes, skipping nothing else: any other frame fails.
    mutating func events(_ count: Int) async throws -> [Envelope] {
        var envelopes: [Envelope] = []
        while envelopes.count < count {
            let frame = try await frame()
            guard frame["type"] == "event", let envelope = frame["envelope"] else { throw UnexpectedFrame(frame: frame) }
            envelopes.append(try Envelope(json: envelope))
        }
        return envelopes
    }

    /// Subscribes and waits for the `subscribed` reply.
    mutating func subscribe(_ patterns: [String], resume: [String: Int64] = [:]) async throws {
        let resumeJSON = JSONValue.object(JSONObject(resume.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.int($0.value)) }))
        let frame: JSONValue = ["type": "subscribe", "patterns": .array(patterns.map { .string($0) }), "resume": resumeJSON]
        try await send(frame.text)
        let reply = try await self.frame()
        guard reply["type"] == "subscribed" else { throw UnexpectedFrame(frame: reply) }
    }
}

struct ConversationEnded: Error {}

struct UnexpectedFrame: Error, CustomStringConvertible {
    let frame: JSONValue
    var description: String { "unexpected frame \(frame.text)" }
}

extension JSONValue {
    var text: String {
        var bytes: [UInt8] = []
        write(into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension TestClientProtocol {
    /// Opens `/v1/ws` and runs `body` on the conversation; returns the close frame.
    @discardableResult
    func conversation(
        headers: HTTPFields = [:], _ body: @escaping @Sendable (inout Conversation) async throws -> Void
    ) async throws -> WebSocketCloseFrame? {
        try await ws("/v1/ws", configuration: WebSocketClientConfiguration(maxFrameSize: 8 << 20, additionalHeaders: headers)) { inbound, outbound, _ in
            var conversation = Conversation(inbound, outbound)
            try await body(&conversation)
        }
    }
}

/// Grants from the `X-Test-Publish` and `X-Test-Subscribe` headers (comma-separated patterns).
struct HeaderAuthenticator: Authenticator {
    func principal(for request: Request, remoteAddress: SocketAddress?) async throws(SwitchyardError) -> Principal {
        func patterns(_ name: String) throws(SwitchyardError) -> [ChannelPattern] {
            guard let value = request.headers[HTTPField.Name(name)!] else { return [] }
            var patterns: [ChannelPattern] = []
            for part in value.split(separator: ",") { patterns.append(try ChannelPattern(String(part))) }
            return patterns
        }
        return Principal(subject: "header-test", grants: Grants(publish: try patterns("X-Test-Publish"), subscribe: try patterns("X-Test-Subscribe")))
    }
}

/// Every grant, as the subject the `X-Test-Subject` header names (`header-test` without it).
struct NamedAuthenticator: Authenticator {
    func principal(for request: Request, remoteAddress: SocketAddress?) async throws(SwitchyardError) -> Principal {
        Principal(subject: request.headers[HTTPField.Name("X-Test-Subject")!] ?? "header-test", grants: .all)
    }
}

extension TestGateway {
    /// Publishes events of about 200 KB to `channels` in turn, a round at a time, until the
    /// gateway's metrics show `effect` (a slow client's queue conflated or closed); at most `limit`
    /// rounds. A fixed count cannot promise the effect: loopback TCP buffers grow to tens of
    /// megabytes on some machines, and a client that reads nothing can still absorb that much.
    /// - Returns: The number of rounds published (the last sequence number of each channel).
    func publishUntil(
        _ client: any TestClientProtocol, channels: [String], limit: Int = 500, _ effect: (Exposition) -> Bool
    ) async throws -> Int64 {
        let padding = String(repeating: "x", count: 200_000)
        var rounds: Int64 = 0
        while rounds < limit {
            rounds += 1
            for channel in channels {
                try await router.publish(to: try ChannelName(channel), payload: ["n": .int(rounds), "pad": .string(padding)])
            }
            if rounds.isMultiple(of: 8), effect(try await client.exposition()) { return rounds }
        }
        Issue.record("the effect did not show after \(limit) rounds of 200 KB events")
        return rounds
    }
}
