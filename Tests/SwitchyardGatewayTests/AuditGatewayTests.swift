import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import HummingbirdWSClient
import JSONSchema
import Switchyard
import SwitchyardGateway
import Testing

/// The audit trail through the gateway: the actor is the token's subject or the API key's name.
@Suite struct AuditGatewayTests {
    static func gateway() async throws -> (TestGateway, AuditTrail, String) {
        let path = NSTemporaryDirectory() + "switchyard-audit-gw-\(UUID().uuidString).jsonl"
        let audit = AuditTrail(file: path, logger: TestGateway.logger)
        let gateway = try TestGateway(allowsUnknownChannels: true, authenticator: try await TestAuth.authenticator(), audit: audit)
        return (gateway, audit, path)
    }

    @Test func publishesAndRefusalsAreRecordedWithTheTokensSubject() async throws {
        let (gateway, audit, path) = try await Self.gateway()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let quotes = TestAuth.bearer(try await TestAuth.hs256(TestAuth.claims("quote-feed", publish: ["quotes.*"], subscribe: ["quotes.*"])))
        try await gateway.test { client in
            let accepted = try await client.send(.post, "/v1/channels/quotes.eur/events", body: #"{"bid":1}"#, headers: quotes)
            #expect(accepted.status == .created)
            let forbidden = try await client.send(.post, "/v1/channels/trades:fill/events", body: #"{"qty":1}"#, headers: quotes)
            #expect(forbidden.status == .forbidden)
            let batch = #"{"events":[{"channel":"quotes.eur","data":{"bid":2}},{"channel":"trades:fill","data":{"qty":1}}]}"#
            #expect(try await client.send(.post, "/v1/events:batch", body: batch, headers: quotes).status == .forbidden)
            let invalid = try await client.send(.post, "/v1/channels/trades:fill/events", body: #"{"qty":"ten"}"#, headers: TestAuth.bearer(TestAuth.apiKey))
            #expect(invalid.status == .unprocessableContent)
        }
        let records = try await audit.records(matching: AuditQuery())
        #expect(records.map(\.action) == [.publish, .refuse, .refuse, .refuse])
        #expect(records.map(\.who) == ["quote-feed", "quote-feed", "quote-feed", "risk-service"])
        #expect(records.map(\.channel) == ["quotes.eur", "trades:fill", "trades:fill", "trades:fill"])
        #expect(records.map(\.reason) == [nil, "forbidden", "forbidden", "validation_error"])
        #expect(records[0].eventID != nil && records[0].sequenceNumber == 1)
        let byWho = try await audit.records(matching: AuditQuery(who: "risk-service"))
        #expect(byWho.count == 1)
        let byChannel = try await audit.records(matching: AuditQuery(channel: try ChannelPattern("quotes.*")))
        #expect(byChannel.map(\.action) == [.publish])
        let byEvent = try await audit.records(matching: AuditQuery(eventID: records[0].eventID))
        #expect(byEvent.count == 1)
    }

    @Test func requeuesAndDropsAreRecordedWithTheCaller() async throws {
        let (gateway, audit, path) = try await Self.gateway()
        defer { try? FileManager.default.removeItem(atPath: path) }
        _ = try await AdminRouteTests.deadLetter(gateway, count: 2)
        let key = TestAuth.bearer(TestAuth.apiKey)
        let reader = TestAuth.bearer(try await TestAuth.hs256(TestAuth.claims("dashboard", subscribe: ["*"])))
        try await gateway.test { client in
            let letters = try await client.send(.get, "/v1/dlq/trades:fill", headers: key)
            let ids = letters.json["dead_letters"]?.arrayValue?.compactMap { $0["id"] } ?? []
            #expect(ids.count == 2)
            let refused = try await client.send(.post, "/v1/dlq/trades:fill", body: JSONValue.object(["action": "drop", "ids": .array(ids)]).serialized(), headers: reader)
            #expect(refused.status == .forbidden)
            let requeue = try await client.send(.post, "/v1/dlq/trades:fill", body: JSONValue.object(["action": "requeue", "ids": [ids[0]]]).serialized(), headers: key)
            #expect(requeue.json["found"] == 1)
            let drop = try await client.send(.post, "/v1/dlq/trades:fill", body: JSONValue.object(["action": "drop", "ids": [ids[1]]]).serialized(), headers: key)
            #expect(drop.json["found"] == 1)
        }
        let records = try await audit.records(matching: AuditQuery(actions: [.requeue, .drop, .refuse]))
        #expect(records.map(\.action) == [.refuse, .requeue, .drop])
        #expect(records.map(\.who) == ["dashboard", "risk-service", "risk-service"])
        #expect(records[0].details["attempted"] == "dead_letters")
        #expect(records[1].sequenceNumber == 1 && records[2].sequenceNumber == 2)
        #expect(records[1].details["group"] == "risk")
    }

    @Test func aWebSocketPublishOutsideTheGrantsIsRecorded() async throws {
        let (gateway, audit, path) = try await Self.gateway()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let token = try await TestAuth.hs256(TestAuth.claims("quote-desk", publish: ["quotes.*"], subscribe: ["quotes.*"]))
        try await gateway.live { client in
            try await client.ws("/v1/ws?token=\(token)") { inbound, outbound, _ in
                var conversation = Conversation(inbound, outbound)
                try await conversation.send(#"{"type":"publish","channel":"trades:fill","data":{"qty":1},"id":"p1"}"#)
                #expect(try await conversation.frame()["error"]?["error_type"] == "forbidden")
            }
        }
        let records = try await audit.records(matching: AuditQuery(who: "quote-desk"))
        #expect(records.map(\.action) == [.refuse] && records.first?.channel == "trades:fill" && records.first?.reason == "forbidden")
    }
}
