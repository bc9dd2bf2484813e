import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import HummingbirdWSClient
import JSONSchema
import Prometheus
import Switchyard
import SwitchyardGateway
import Testing

/// The gateway signs what it publishes to critical channels and checks the signature of every
/// event it reads out: replay, latest and the WebSocket.
@Suite struct SignedEventsGatewayTests {
    static let key = try! SecretKey(id: "gw-1", secret: Array(repeating: 0x61, count: 32))
    static let fill = try! ChannelName("trades:fill")

    /// A gateway whose `trades:fill` is critical, with one signed event (qty 1) published by its
    /// router, then two written behind its back: one unsigned (qty 2), one tampered (qty 30, signed as qty 3).
    static func setUp(audit: AuditTrail? = nil, metricsRegistry: PrometheusCollectorRegistry? = nil) async throws -> TestGateway {
        let schema: JSONValue = ["type": "object", "required": ["qty"], "properties": ["qty": ["type": "integer"]]]
        let contracts = try ContractRegistry([
            try Contract(channel: try ChannelPattern("trades:fill"), schema: schema, policy: ChannelPolicy(retentionSeconds: 3600, critical: true))
        ])
        let gateway = try TestGateway(contracts: contracts, metricsRegistry: metricsRegistry, signingKeys: try KeyRing([key], purpose: .signing), audit: audit)
        try await gateway.router.publish(to: fill, payload: ["qty": 1], source: "desk")
        let rules = AppendRules(retention: .seconds(3600), dedupWindow: .seconds(300), rateLimit: nil)
        _ = try await gateway.router.engine.append([
            AppendRequest(eventID: .generate(), channel: fill, timestamp: .now(), source: "intruder", schema: "trades:fill@1", data: ["qty": 2], rules: rules)
        ])
        let id = EventID.generate()
        let signature = EventSigner(keys: try KeyRing([key], purpose: .signing)).signature(
            eventID: id, channel: fill, source: "intruder", schema: "trades:fill@1", data: ["qty": 3], metadata: [:])
        _ = try await gateway.router.engine.append([
            AppendRequest(
                eventID: id, channel: fill, timestamp: .now(), source: "intruder", schema: "trades:fill@1", data: ["qty": 30],
                metadata: ["signature": signature], rules: rules)
        ])
        return gateway
    }

    @Test func replayLeavesOutWhatDoesNotVerifyAndSaysWhy() async throws {
        let gateway = try await Self.setUp(metricsRegistry: PrometheusCollectorRegistry())
        try await gateway.test { client in
            let replay = try await client.send(.get, "/v1/replay?channel=trades:fill")
            #expect(replay.status == .ok)
            let events = replay.json["events"]?.arrayValue ?? []
            #expect(events.map { $0["data"]?["qty"] } == [1])
            #expect(events.first?["metadata"]?["signature"]?["key_id"] == "gw-1")
            #expect(replay.json["count"] == 1)
            let refused = replay.json["refused"]?.arrayValue ?? []
            #expect(refused.map { $0["sequence_number"] } == [2, 3])
            #expect(refused.map { $0["error"]?["error_type"] } == ["unsigned_event", "invalid_signature"])

            let latest = try await client.send(.get, "/v1/channels/trades:fill/latest")
            #expect(latest.status == .badGateway)
            #expect(latest.errorType == "invalid_signature")
            #expect(latest.json["details"]?["sequence_number"] == 3)

            let published = try await client.send(.post, "/v1/channels/trades:fill/events", body: #"{"qty":4}"#)
            #expect(published.status == .created, "\(published.json)")
            let metrics = try await client.exposition()
            #expect(metrics["switchyard_refused_events_total", ["channel": "trades:fill", "reason": "unsigned_event"]] == 1)
            #expect(metrics["switchyard_refused_events_total", ["channel": "trades:fill", "reason": "invalid_signature"]] == 2, "once in the replay, once in latest")
            let signed = try await client.send(.get, "/v1/channels/trades:fill/latest")
            #expect(signed.status == .ok && signed.json["metadata"]?["signature"]?["key_id"] == "gw-1", "what the gateway publishes, it signs")
        }
    }

    @Test func theWebSocketSendsARefusedFrameInTheEventsPlace() async throws {
        let gateway = try await Self.setUp()
        try await gateway.live { client in
            try await client.ws("/v1/ws") { inbound, outbound, _ in
                var conversation = Conversation(inbound, outbound)
                try await conversation.subscribe(["trades:*"], resume: ["trades:fill": 0])
                let first = try await conversation.frame()
                #expect(first["type"] == "event" && first["envelope"]?["data"]?["qty"] == 1)
                let second = try await conversation.frame()
                #expect(second["type"] == "refused" && second["sequence_number"] == 2 && second["error"]?["error_type"] == "unsigned_event")
                let third = try await conversation.frame()
                #expect(third["type"] == "refused" && third["sequence_number"] == 3 && third["error"]?["error_type"] == "invalid_signature")
                #expect(third["envelope"] == nil, "nothing of a refused event is sent but its place and the reason")
                // A live publish after the refusals arrives as the next event.
                try await conversation.send(#"{"type":"publish","channel":"trades:fill","data":{"qty":4},"id":"p"}"#)
                var event: JSONValue?
                while event == nil {
                    let frame = try await conversation.frame()
                    if frame["type"] == "event" { event = frame }
                }
                #expect(event?["envelope"]?["sequence_number"] == 4 && event?["envelope"]?["metadata"]?["signature"]?["key_id"] == "gw-1")
            }
        }
    }

    @Test func refusalsAreAuditedWithTheReader() async throws {
        let path = NSTemporaryDirectory() + "switchyard-gw-audit-\(UUID().uuidString).jsonl"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let audit = AuditTrail(file: path, logger: TestGateway.logger)
        let gateway = try await Self.setUp(audit: audit)
        try await gateway.test { client in
            _ = try await client.send(.get, "/v1/replay?channel=trades:fill")
        }
        let refusals = try await audit.records(matching: AuditQuery(actions: [.refuse]))
        #expect(refusals.map(\.reason) == ["unsigned_event", "invalid_signature"])
        #expect(refusals.allSatisfy { $0.who == "intruder" && $0.details["refused_by"] == "gateway" })
        let publishes = try await audit.records(matching: AuditQuery(actions: [.publish]))
        #expect(publishes.map(\.sequenceNumber) == [1])
    }
}
