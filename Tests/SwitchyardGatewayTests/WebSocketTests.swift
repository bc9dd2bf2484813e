import HTTPTypes
import Hummingbird
import HummingbirdTesting
import HummingbirdWSTesting
import JSONSchema
import NIOWebSocket
import Prometheus
import Switchyard
import SwitchyardGateway
import Testing

/// `/v1/ws` on the embedded engine: subscriptions, frames, errors, publish, grants and resume.
@Suite struct WebSocketTests {
    static func publish(_ router: Switchyard.Router, _ channel: String, _ n: Int) async throws {
        try await router.publish(to: try ChannelName(channel), payload: ["n": .int(Int64(n))])
    }

    /// Event ids are chosen by publishers and unique only within a channel: the shared frame of an
    /// event of `dup:a` is never sent for the event of `dup:b` with the same id and sequence number.
    @Test func theSameEventIDOnTwoChannelsSendsEachChannelItsOwnEvent() async throws {
        let gateway = try TestGateway(allowsUnknownChannels: true)
        let router = gateway.router
        let id = EventID.generate()
        try await router.publish(to: try ChannelName("dup:a"), payload: ["from": "a"], eventID: id)
        try await gateway.live { client in
            try await client.conversation { conversation in
                // The history of dup:a makes its frame, kept for every session.
                try await conversation.subscribe(["dup:a"], resume: ["dup:a": 0])
                let a = try await conversation.events(1)
                #expect(a.map(\.channel.rawValue) == ["dup:a"])
                try await conversation.subscribe(["dup:b"])
                try await router.publish(to: try ChannelName("dup:b"), payload: ["from": "b"], eventID: id)
                let b = try await conversation.events(1)
                #expect(b.map(\.channel.rawValue) == ["dup:b"])
                #expect(b.map { $0.data["from"] } == ["b"])
                #expect(b.first?.eventID == id && b.first?.sequenceNumber == a.first?.sequenceNumber)
            }
        }
    }

    @Test func aWildcardSubscriptionReceivesEventFramesAndUnsubscribeStopsThem() async throws {
        let gateway = try TestGateway(allowsUnknownChannels: true)
        let router = gateway.router
        try await gateway.live { client in
            try await client.conversation { conversation in
                try await conversation.subscribe(["trades:*"])
                try await Self.publish(router, "trades:a", 1)
                try await Self.publish(router, "other:x", 1)
                try await Self.publish(router, "trades:b", 2)
                let events = try await conversation.events(2)
                #expect(events.map(\.channel.rawValue) == ["trades:a", "trades:b"])
                #expect(events.map { $0.data["n"] } == [1, 2])
                #expect(events.allSatisfy { $0.sequenceNumber == 1 && $0.source == "gateway-tests" })

                try await conversation.send(#"{"type":"unsubscribe","patterns":["trades:*"],"id":7}"#)
                let reply = try await conversation.frame()
                #expect(reply == ["type": "unsubscribed", "patterns": ["trades:*"], "id": 7])
                try await conversation.subscribe(["other:*"])
                try await Self.publish(router, "trades:a", 3)
                try await Self.publish(router, "other:y", 4)
                let next = try await conversation.events(1)
                #expect(next.map(\.channel.rawValue) == ["other:y"], "nothing from trades:* after unsubscribing")

                // Subscribing again starts live: what was published in between is not replayed.
                try await conversation.subscribe(["trades:*"])
                try await Self.publish(router, "trades:a", 5)
                let again = try await conversation.events(1)
                #expect(again.map { $0.data["n"] } == [5])
            }
        }
    }

    @Test func malformedFramesGetErrorFramesAndTheConnectionStaysUsable() async throws {
        let gateway = try TestGateway(allowsUnknownChannels: true, webSocket: WebSocketConfiguration(maxInboundMessageBytes: 1024))
        let router = gateway.router
        try await gateway.live { client in
            try await client.conversation { conversation in
                let cases: [(String, String)] = [
                    ("not json", "malformed_json"),
                    ("[1]", "bad_request"),
                    (#"{"patterns":["a"]}"#, "bad_request"),
                    (#"{"type":"dance"}"#, "bad_request"),
                    (#"{"type":"subscribe"}"#, "validation_error"),
                    (#"{"type":"subscribe","patterns":[""]}"#, "invalid_channel"),
                    (#"{"type":"subscribe","patterns":["a"],"resume":{"a":-1}}"#, "validation_error"),
                    (#"{"type":"publish","channel":"bad channel!","data":{}}"#, "invalid_channel"),
                    (#"{"type":"publish","channel":"events:a","data":{"n":1},"event_id":"nope"}"#, "validation_error"),
                    (String(repeating: " ", count: 2000) + "{}", "payload_too_large"),
                ]
                for (text, errorType) in cases {
                    try await conversation.send(text)
                    let reply = try await conversation.frame()
                    #expect(reply["type"] == "error", "\(text.prefix(60))")
                    #expect(reply["error"]?["error_type"]?.stringValue == errorType, "\(text.prefix(60)): \(reply.text)")
                    #expect(reply["error"]?["message"]?.stringValue?.isEmpty == false)
                }
                try await conversation.outbound.write(.binary(.init(string: "{}")))
                #expect(try await conversation.frame()["error"]?["error_type"] == "bad_request")
                try await conversation.subscribe(["events:*"])
                try await Self.publish(router, "events:a", 1)
                #expect(try await conversation.events(1).first?.channel.rawValue == "events:a")
            }
        }
    }

    @Test func publishFramesAreCheckedLikeHTTPAndAnsweredWithTheReceipt() async throws {
        let gateway = try TestGateway(authenticator: HeaderAuthenticator())
        let headers: HTTPFields = [HTTPField.Name("X-Test-Publish")!: "trades:*", HTTPField.Name("X-Test-Subscribe")!: "trades:*"]
        try await gateway.live { client in
            try await client.conversation(headers: headers) { conversation in
                try await conversation.send(#"{"type":"publish","channel":"trades:fill","data":{"qty":3},"id":"p1","event_id":"0193a2c4-7b1e-7c3a-9f1e-3b2d1c0a9e8f"}"#)
                let receipt = try await conversation.frame()
                #expect(receipt["type"] == "published" && receipt["id"] == "p1", "\(receipt.text)")
                #expect(receipt["sequence_number"] == 1 && receipt["duplicate"] == false)
                #expect(receipt["event_id"] == "0193a2c4-7b1e-7c3a-9f1e-3b2d1c0a9e8f")
                try await conversation.send(#"{"type":"publish","channel":"trades:fill","data":{"qty":3},"id":"p2","event_id":"0193a2c4-7b1e-7c3a-9f1e-3b2d1c0a9e8f"}"#)
                #expect(try await conversation.frame()["duplicate"] == true)
                try await conversation.send(#"{"type":"publish","channel":"trades:fill","data":{"qty":"x"},"id":"p3"}"#)
                let invalid = try await conversation.frame()
                #expect(invalid["id"] == "p3" && invalid["error"]?["error_type"] == "validation_error")
                #expect(invalid["error"]?["details"]?["invalid_fields"]?["qty"] != nil)
                try await conversation.send(#"{"type":"publish","channel":"limited:a","data":{},"id":4}"#)
                let forbidden = try await conversation.frame()
                #expect(forbidden["id"] == 4 && forbidden["error"]?["error_type"] == "forbidden")
            }
        }
        #expect(try await gateway.router.replay(try ChannelPattern("limited:a")).isEmpty, "a refused publish stores nothing")
    }

    @Test func grantsRefuseUncoveredPatternsAndFilterEveryEvent() async throws {
        let gateway = try TestGateway(allowsUnknownChannels: true, authenticator: HeaderAuthenticator())
        let router = gateway.router
        let headers: HTTPFields = [HTTPField.Name("X-Test-Subscribe")!: "trades:user_1,quotes.*"]
        try await gateway.live { client in
            try await client.conversation(headers: headers) { conversation in
                try await conversation.send(#"{"type":"subscribe","patterns":["secret:*","quotes.*"],"id":"s"}"#)
                let refused = try await conversation.frame()
                #expect(refused["error"]?["error_type"] == "forbidden" && refused["id"] == "s")
                #expect(refused["error"]?["details"]?["patterns"] == ["secret:*"])
                try await conversation.send(#"{"type":"subscribe","patterns":["trades:user_2"]}"#)
                #expect(try await conversation.frame()["error"]?["error_type"] == "forbidden")

                try await conversation.subscribe(["*"])
                try await Self.publish(router, "trades:user_2", 1)
                try await Self.publish(router, "secret:a", 1)
                try await Self.publish(router, "trades:user_1", 1)
                try await Self.publish(router, "quotes.x", 1)
                let events = try await conversation.events(2)
                #expect(events.map(\.channel.rawValue) == ["trades:user_1", "quotes.x"])
            }
        }
    }

    @Test func resumeSendsHistoryThenLiveWithoutGapOrDuplicate() async throws {
        let gateway = try TestGateway(allowsUnknownChannels: true)
        let router = gateway.router
        for n in 1...5 { try await Self.publish(router, "trades:r", n) }
        try await Self.publish(router, "trades:s", 1)
        try await gateway.live { client in
            try await client.conversation { conversation in
                try await conversation.subscribe(["trades:*"], resume: ["trades:r": 2, "other:x": 1])
                let history = try await conversation.events(3)
                #expect(history.map(\.sequenceNumber) == [3, 4, 5])
                for n in 6...8 { try await Self.publish(router, "trades:r", n) }
                try await Self.publish(router, "trades:s", 2)
                let live = try await conversation.events(4)
                #expect(live.filter { $0.channel.rawValue == "trades:r" }.map(\.sequenceNumber) == [6, 7, 8])
                #expect(live.filter { $0.channel.rawValue == "trades:s" }.map(\.sequenceNumber) == [2])

                // A second subscribe restarts the subscription: what was sent is not sent again.
                try await conversation.subscribe(["quotes.*"], resume: ["trades:r": 1])
                try await Self.publish(router, "trades:r", 9)
                #expect(try await conversation.events(1).map(\.sequenceNumber) == [9])
            }
            try await client.conversation { conversation in
                try await conversation.subscribe(["trades:r"], resume: ["trades:r": 7])
                #expect(try await conversation.events(2).map(\.sequenceNumber) == [8, 9])
            }
        }
    }

    @Test func aSlowClientGetsTheLatestEventPerConflatableChannel() async throws {
        let gateway = try TestGateway(
            allowsUnknownChannels: true, webSocket: WebSocketConfiguration(queueLimit: 4), metricsRegistry: PrometheusCollectorRegistry())
        try await gateway.live { client in
            try await client.conversation { conversation in
                try await conversation.subscribe(["market_data:*"])
                // The client reads nothing while the events go out: the socket fills, and the queue behind it.
                let rounds = try await gateway.publishUntil(client, channels: ["market_data:a", "market_data:b"]) { metrics in
                    (metrics["switchyard_ws_conflated_total", ["channel": "other"]] ?? 0) > 0
                }
                var last: [String: Int64] = [:]
                var received = 0
                while last["market_data:a"] != rounds || last["market_data:b"] != rounds {
                    let frame = try await conversation.frame()
                    #expect(frame["type"] == "event", "\(frame.text.prefix(200))")
                    let envelope = try Envelope(json: frame["envelope"] ?? .null)
                    let channel = envelope.channel.rawValue
                    #expect(envelope.sequenceNumber > last[channel, default: 0], "in order, never twice")
                    last[channel] = envelope.sequenceNumber
                    received += 1
                }
                #expect(received < 2 * Int(rounds), "some events were conflated away")
            }
        }
    }

    @Test func aSlowClientOnALosslessChannelIsClosedWithTheSlowConsumerCode() async throws {
        let gateway = try TestGateway(
            allowsUnknownChannels: true, webSocket: WebSocketConfiguration(queueLimit: 4), metricsRegistry: PrometheusCollectorRegistry())
        try await gateway.live { client in
            let close = try await client.conversation { conversation in
                try await conversation.subscribe(["trades:*"])
                let rounds = try await gateway.publishUntil(client, channels: ["trades:slow"]) { metrics in
                    metrics["switchyard_ws_disconnected_slow_total"] == 1
                }
                var last: Int64 = 0
                while let frame = try await conversation.next() {
                    let envelope = try Envelope(json: frame["envelope"] ?? .null)
                    #expect(envelope.sequenceNumber == last + 1, "lossless: no gap before the close")
                    last = envelope.sequenceNumber
                }
                #expect(last < rounds)
            }
            #expect(close?.closeCode == .unknown(WebSocketCloseCode.slowConsumer))
            #expect(close?.reason?.contains("slow consumer") == true)
        }
    }
}

/// Heartbeats and the transport's frame limit.
@Suite struct WebSocketLimitTests {
    @Test func anIdleConnectionGetsHeartbeats() async throws {
        let gateway = try TestGateway(webSocket: WebSocketConfiguration(heartbeatInterval: .milliseconds(100)))
        try await gateway.live { client in
            try await client.ws("/v1/ws") { inbound, _, _ in
                var messages = inbound.messages(maxSize: 1 << 16).makeAsyncIterator()
                guard case .text(let text)? = try await messages.next() else { throw ConversationEnded() }
                #expect(text == #"{"type":"heartbeat"}"#)
            }
        }
    }

    @Test func aFrameAboveTheTransportLimitClosesTheConnection() async throws {
        let gateway = try TestGateway(webSocket: WebSocketConfiguration(maxInboundMessageBytes: 1024, maxFrameBytes: 4096))
        try await gateway.live { client in
            let close = try await client.conversation { conversation in
                try await conversation.send(String(repeating: "x", count: 2000))
                #expect(try await conversation.frame()["error"]?["error_type"] == "payload_too_large")
                try await conversation.send(String(repeating: "x", count: 10_000))
                while try await conversation.next() != nil {}
            }
            #expect(close?.closeCode == .messageTooLarge, "\(String(describing: close))")
        }
    }
}
