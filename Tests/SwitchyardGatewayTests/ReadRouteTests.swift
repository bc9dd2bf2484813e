import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JSONSchema
import Switchyard
import SwitchyardGateway
import Testing

@Suite struct ReadRouteTests {
    static func publish(_ gateway: TestGateway, _ channel: String, count: Int) async throws {
        for qty in 1...count {
            try await gateway.router.publish(to: try ChannelName(channel), payload: ["qty": .int(Int64(qty))])
        }
    }

    @Test func replayBySequenceTimeAndPattern() async throws {
        let gateway = try TestGateway(allowsUnknownChannels: true)
        try await Self.publish(gateway, "trades:fill", count: 5)
        try await Self.publish(gateway, "trades:other", count: 2)
        try await gateway.test { client in
            let window = try await client.send(.get, "/v1/replay?channel=trades:fill&since=2&until=4")
            #expect(window.status == .ok)
            #expect(window.json["events"]?.arrayValue?.map { $0["sequence_number"] } == [2, 3, 4])
            #expect(window.json["count"] == 3)
            let limited = try await client.send(.get, "/v1/replay?channel=trades:fill&limit=2")
            #expect(limited.json["count"] == 2)
            let pattern = try await client.send(.get, "/v1/replay?channel=trades:*")
            #expect(pattern.json["count"] == 7)
            let proposal = try await client.send(.get, "/replay?channel=trades:fill&since=2025-08-01T00:00:00Z")
            #expect(proposal.status == .ok)
            #expect(proposal.json["count"] == 5)
            #expect(proposal.json["events"]?.arrayValue?.first?["data"] == ["qty": 1])
            let future = try await client.send(.get, "/v1/replay?channel=trades:fill&since=2999-01-01T00:00:00Z")
            #expect(future.json["count"] == 0)
        }
    }

    @Test func replayRefusesBadParameters() async throws {
        let gateway = try TestGateway()
        try await gateway.test { client in
            let noChannel = try await client.send(.get, "/v1/replay")
            #expect(noChannel.status == .badRequest)
            #expect(noChannel.errorType == "bad_request")
            let badSince = try await client.send(.get, "/v1/replay?channel=trades:fill&since=yesterday")
            #expect(badSince.status == .badRequest)
            #expect(badSince.json["details"]?["parameter"] == "since")
            let badLimit = try await client.send(.get, "/v1/replay?channel=trades:fill&limit=-1")
            #expect(badLimit.status == .badRequest)
            let emptyChannel = try await client.send(.get, "/v1/replay?channel=")
            #expect(emptyChannel.status == .badRequest)
        }
    }

    @Test func latestAnswersTheNewestEnvelopeOr404() async throws {
        let gateway = try TestGateway()
        try await gateway.test { client in
            let none = try await client.send(.get, "/v1/channels/trades:fill/latest")
            #expect(none.status == .notFound)
            #expect(none.errorType == "not_found")
            #expect(none.json["details"]?["channel"] == "trades:fill")
            try await Self.publish(gateway, "trades:fill", count: 2)
            let latest = try await client.send(.get, "/v1/channels/trades:fill/latest")
            #expect(latest.status == .ok)
            #expect(latest.json["sequence_number"] == 2)
            #expect(latest.json["channel"] == "trades:fill")
            #expect(latest.json["source"] == "gateway-tests")
            let bad = try await client.send(.get, "/v1/channels/bad%20name/latest")
            #expect(bad.status == .badRequest)
        }
    }

    @Test func channelsListsEveryStream() async throws {
        let gateway = try TestGateway(allowsUnknownChannels: true)
        try await Self.publish(gateway, "trades:fill", count: 3)
        try await Self.publish(gateway, "events:x", count: 1)
        try await gateway.test { client in
            let answer = try await client.send(.get, "/v1/channels")
            let channels = try #require(answer.json["channels"]?.arrayValue)
            #expect(channels.map { $0["channel"] } == ["events:x", "trades:fill"])
            #expect(channels[1]["last_sequence_number"] == 3)
            #expect(channels[1]["length"] == 3)
        }
    }

    @Test func groupsShowPendingAndLag() async throws {
        let gateway = try TestGateway()
        let fills = try ChannelName("trades:fill")
        try await Self.publish(gateway, "trades:fill", count: 3)
        try await gateway.router.engine.createGroup("risk", on: fills, start: .beginning)
        _ = try await gateway.router.engine.readGroup(GroupReadRequest(group: "risk", consumer: "c1", channels: [fills], count: 1, block: nil))
        try await gateway.test { client in
            let answer = try await client.send(.get, "/v1/groups?channel=trades:*")
            let groups = try #require(answer.json["groups"]?.arrayValue)
            #expect(groups.count == 1)
            #expect(groups.first?["group"] == "risk")
            #expect(groups.first?["pending"] == 1)
            #expect(groups.first?["pending_by_consumer"] == ["c1": 1])
            #expect(groups.first?["lag"] == 2)
            #expect((groups.first?["lag_seconds"]?.doubleValue ?? -1) >= 0)
            let one = try await client.send(.get, "/v1/groups?channel=trades:fill")
            #expect(one.json["groups"]?.arrayValue?.count == 1)
            let bad = try await client.send(.get, "/v1/groups?channel=bad%20name")
            #expect(bad.status == .badRequest)
        }
    }
}
