import Foundation
import HummingbirdTesting
import HummingbirdWSClient
import JSONSchema
import Switchyard
import SwitchyardGateway
import Testing

/// Read grants on every path a `/v1/ws` session sends events by: a `resume` naming a channel the
/// token may not read is refused and sends nothing of it, and a wide pattern the token may
/// subscribe to still carries only the channels it may read.
@Suite struct WebSocketGrantTests {
    /// A token that may read only `trades:user_1` asks for `*` and the history of `secret`, which
    /// holds three events: it gets a `forbidden` error frame naming the channel, and afterwards,
    /// subscribed to `*`, only the events of `trades:user_1`.
    static func resumeOfAnUnreadableChannelIsRefused(_ gateway: TestGateway, secret: String, readable: String) async throws {
        for n in 1...3 { try await WebSocketTests.publish(gateway.router, secret, n) }
        let token = try await TestAuth.hs256(TestAuth.claims("user-1", subscribe: [readable]))
        try await gateway.live { client in
            try await client.ws("/v1/ws?token=\(token)") { inbound, outbound, _ in
                var conversation = Conversation(inbound, outbound)
                try await conversation.send(#"{"type":"subscribe","patterns":["*"],"resume":{"\#(secret)":0},"id":"r"}"#)
                let refusal = try await conversation.frame()
                #expect(refusal["type"] == "error" && refusal["id"] == "r")
                #expect(refusal["error"]?["error_type"] == "forbidden")
                #expect(refusal["error"]?["details"]?["channels"] == [.string(secret)])

                try await conversation.subscribe(["*"])
                try await WebSocketTests.publish(gateway.router, secret, 4)
                try await WebSocketTests.publish(gateway.router, readable, 1)
                let events = try await conversation.events(1)
                #expect(events.map(\.channel.rawValue) == [readable], "nothing of \(secret) is sent, live or stored")
            }
        }
    }

    @Test func aResumeOfAChannelWithoutReadGrantIsRefusedAndSendsNothing() async throws {
        let gateway = try TestGateway(allowsUnknownChannels: true, authenticator: try await TestAuth.authenticator())
        try await Self.resumeOfAnUnreadableChannelIsRefused(gateway, secret: "orders.secret", readable: "trades:user_1")
    }

    /// A resume of a readable channel still sends its history: the check refuses only what the grant does not cover.
    @Test func aResumeOfAReadableChannelSendsItsHistory() async throws {
        let gateway = try TestGateway(allowsUnknownChannels: true, authenticator: try await TestAuth.authenticator())
        for n in 1...3 { try await WebSocketTests.publish(gateway.router, "trades:user_1", n) }
        let token = try await TestAuth.hs256(TestAuth.claims("user-1", subscribe: ["trades:user_1"]))
        try await gateway.live { client in
            try await client.ws("/v1/ws?token=\(token)") { inbound, outbound, _ in
                var conversation = Conversation(inbound, outbound)
                try await conversation.subscribe(["*"], resume: ["trades:user_1": 1])
                let history = try await conversation.events(2)
                #expect(history.map(\.sequenceNumber) == [2, 3])
            }
        }
    }
}
