import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JSONSchema
import Switchyard
import SwitchyardGateway
import Testing

/// REC.IO's whole message, `{"topic","timestamp","data","metadata"}` (seed 000), through the gateway:
/// `POST /v1/publish`, the channel route, the WebSocket and `GET /v1/replay`.
@Suite struct TopicMessageRouteTests {
    static let message = #"""
        {"topic":"trades:fill","timestamp":"2025-01-27T10:30:05Z","data":{"qty":10},"metadata":{"user_id":"user_0001","pnl_impact":6.50}}
        """#

    @Test func postPublishTakesTheWholeMessageOnTheChannelItsTopicNames() async throws {
        let gateway = try TestGateway()
        try await gateway.test { client in
            let receipt = try await client.send(.post, "/v1/publish", body: Self.message)
            #expect(receipt.status == .created)
            #expect(receipt.json["channel"] == "trades:fill" && receipt.json["sequence_number"] == 1)
            let direct = try await client.send(.post, "/v1/channels/trades:fill/events", body: Self.message)
            #expect(direct.status == .created && direct.json["sequence_number"] == 2)

            let replay = try await client.send(.get, "/v1/replay?channel=trades:fill")
            let events = try #require(replay.json["events"]?.arrayValue)
            #expect(events.count == 2)
            for event in events {
                #expect(event["topic"] == "trades:fill")
                #expect(event["timestamp"]?.stringValue?.hasSuffix("Z") == true)
                #expect(event["event_time"] == "2025-01-27T10:30:05Z")
                #expect(event["data"] == ["qty": 10])
                #expect(event["metadata"]?["user_id"] == "user_0001" && event["metadata"]?["pnl_impact"] == 6.5)
            }
        }
    }

    @Test func refusalsHaveSeed000sValidationErrorShape() async throws {
        let gateway = try TestGateway()
        try await gateway.test { client in
            let missing = try await client.send(.post, "/v1/publish", body: #"{"topic":"trades:fill","metadata":{}}"#)
            #expect(missing.status == .unprocessableContent)
            #expect(missing.json == [
                "error_type": "validation_error", "message": "Invalid message schema",
                "details": ["missing_fields": ["timestamp", "data"], "invalid_fields": [:]],
            ])
            let invalid = try await client.send(.post, "/v1/publish", body: #"{"topic":"trades:fill","timestamp":"2025-01-27T10:30:05Z","data":{"qty":"ten"}}"#)
            #expect(invalid.status == .unprocessableContent)
            #expect(invalid.json["details"]?["invalid_fields"]?["qty"] != nil)
            let elsewhere = try await client.send(.post, "/v1/channels/trades:fill/events", body: #"{"topic":"limited:x","timestamp":"2025-01-27T10:30:05Z","data":{"qty":1}}"#)
            #expect(elsewhere.status == .unprocessableContent)
            #expect(elsewhere.json["details"]?["invalid_fields"]?["topic"] != nil, "the topic must be the channel published to")
            let noTopic = try await client.send(.post, "/v1/publish", body: #"{"timestamp":"2025-01-27T10:30:05Z","data":{"qty":1}}"#)
            #expect(noTopic.status == .unprocessableContent && noTopic.json["details"]?["missing_fields"] == ["topic"])
            let unknown = try await client.send(.post, "/v1/publish", body: #"{"topic":"nowhere:x","timestamp":"2025-01-27T10:30:05Z","data":{}}"#)
            #expect(unknown.status == .notFound && unknown.json["error_type"] == "unknown_channel")
            let broken = try await client.send(.post, "/v1/publish", body: #"{"topic":"trades:fill","#)
            #expect(broken.status == .badRequest && broken.json["error_type"] == "malformed_json")
            let replay = try await client.send(.get, "/v1/replay?channel=trades:fill")
            #expect(replay.json["count"] == 0, "a refused message stores nothing")
        }
    }

    @Test func aWebSocketSubscriberFindsTopicTimestampDataAndMetadata() async throws {
        let gateway = try TestGateway()
        try await gateway.live { client in
            try await client.conversation { conversation in
                try await conversation.subscribe(["trades:*"])
                try await gateway.router.publish(to: try ChannelName("trades:fill"), payload: try JSONValue(parsing: Self.message))
                let frame = try await conversation.frame()
                #expect(frame["type"] == "event")
                let envelope = try #require(frame["envelope"])
                #expect(envelope["topic"] == "trades:fill" && envelope["event_time"] == "2025-01-27T10:30:05Z")
                #expect(envelope["timestamp"]?.stringValue != nil && envelope["data"] == ["qty": 10])
                #expect(envelope["metadata"]?["user_id"] == "user_0001")
            }
        }
    }
}
