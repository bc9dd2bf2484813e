import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JSONSchema
import Switchyard
import SwitchyardGateway
import Testing

/// Grants on every route: reads filtered or refused, writes refused, with `forbidden` naming the channel.
@Suite struct GrantTests {
    /// A gateway with events on `trades:fill` (dead-lettered for group `risk`) and `quotes.realtime`,
    /// and a token that may only read `quotes.*`.
    static func setUp() async throws -> (TestGateway, HTTPFields) {
        let gateway = try TestGateway(allowsUnknownChannels: true, authenticator: try await TestAuth.authenticator())
        _ = try await AdminRouteTests.deadLetter(gateway, count: 2)
        try await gateway.router.publish(to: try ChannelName("quotes.realtime"), payload: ["bid": 1])
        try await gateway.router.engine.createGroup("ui", on: try ChannelName("quotes.realtime"), start: .beginning)
        let token = try await TestAuth.hs256(TestAuth.claims("dashboard", subscribe: ["quotes.*"]))
        return (gateway, TestAuth.bearer(token))
    }

    @Test func channelsAndGroupsShowOnlyReadableChannels() async throws {
        let (gateway, reader) = try await Self.setUp()
        try await gateway.test { client in
            let channels = try await client.send(.get, "/v1/channels", headers: reader)
            #expect(channels.json["channels"]?.arrayValue?.map { $0["channel"] } == ["quotes.realtime"])
            let everything = try await client.send(.get, "/v1/channels", headers: TestAuth.bearer(try await TestAuth.hs256(TestAuth.claims(subscribe: ["*"]))))
            #expect(everything.json["channels"]?.arrayValue?.count == 2)
            let groups = try await client.send(.get, "/v1/groups", headers: reader)
            #expect(groups.json["groups"]?.arrayValue?.map { $0["group"] } == ["ui"])
            let refused = try await client.send(.get, "/v1/groups?channel=trades:fill", headers: reader)
            #expect(refused.status == .forbidden && refused.json["details"]?["channel"] == "trades:fill")
            let pattern = try await client.send(.get, "/v1/groups?channel=trades:*", headers: reader)
            #expect(pattern.status == .ok && pattern.json["groups"]?.arrayValue?.isEmpty == true)
        }
    }

    @Test func replayByPatternReturnsOnlyReadableChannelsAndByNameRefuses() async throws {
        let (gateway, reader) = try await Self.setUp()
        try await gateway.test { client in
            let all = try await client.send(.get, "/v1/replay?channel=*", headers: reader)
            #expect(all.status == .ok)
            #expect(all.json["events"]?.arrayValue?.map { $0["channel"] } == ["quotes.realtime"])
            let none = try await client.send(.get, "/v1/replay?channel=trades:*", headers: reader)
            #expect(none.status == .ok && none.json["count"] == 0)
            let named = try await client.send(.get, "/replay?channel=trades:fill", headers: reader)
            #expect(named.status == .forbidden && named.errorType == "forbidden")
            #expect(named.json["details"]?["grant"] == "subscribe")
            let latest = try await client.send(.get, "/v1/channels/trades:fill/latest", headers: reader)
            #expect(latest.status == .forbidden)
            let readable = try await client.send(.get, "/v1/channels/quotes.realtime/latest", headers: reader)
            #expect(readable.status == .ok)
        }
    }

    @Test func deadLettersNeedSubscribeToListAndPublishToAct() async throws {
        let (gateway, reader) = try await Self.setUp()
        try await gateway.test { client in
            let list = try await client.send(.get, "/v1/dlq/trades:fill", headers: reader)
            #expect(list.status == .forbidden && list.json["details"]?["channel"] == "trades:fill")
            let body = #"{"action":"drop","ids":["0-1"]}"#
            let act = try await client.send(.post, "/v1/dlq/trades:fill", body: body, headers: reader)
            #expect(act.status == .forbidden && act.json["details"]?["grant"] == "publish")
            // The API key reads and publishes trades:*.
            let key = TestAuth.bearer(TestAuth.apiKey)
            let letters = try await client.send(.get, "/v1/dlq/trades:fill", headers: key)
            let ids = letters.json["dead_letters"]?.arrayValue?.compactMap { $0["id"] } ?? []
            #expect(ids.count == 2)
            let requeue = try await client.send(.post, "/v1/dlq/trades:fill", body: JSONValue.object(["action": "requeue", "ids": .array(ids)]).serialized(), headers: key)
            #expect(requeue.status == .ok && requeue.json["found"] == 2)
            let subscribeOnly = TestAuth.bearer(try await TestAuth.hs256(TestAuth.claims(subscribe: ["trades:*"])))
            let listed = try await client.send(.get, "/v1/dlq/trades:fill", headers: subscribeOnly)
            #expect(listed.status == .ok)
            let acted = try await client.send(.post, "/v1/dlq/trades:fill", body: body, headers: subscribeOnly)
            #expect(acted.status == .forbidden)
        }
    }
}

/// `publish_rate` in `GET /v1/channels`.
@Suite struct PublishRateTests {
    @Test func ratesAppearAndArePlausible() async throws {
        let gateway = try TestGateway()
        let fills = try ChannelName("trades:fill")
        for qty in 1...6 { try await gateway.router.publish(to: fills, payload: ["qty": .int(Int64(qty))]) }
        try await gateway.test { client in
            let answer = try await client.send(.get, "/v1/channels")
            let channel = try #require(answer.json["channels"]?.arrayValue?.first)
            let rate60 = try #require(channel["publish_rate"]?["60s"]?.doubleValue)
            let rate10 = try #require(channel["publish_rate"]?["10s"]?.doubleValue)
            #expect(rate60 > 0 && rate60 * 60 <= 6.000001)
            #expect(rate10 >= 0 && rate10 * 10 <= 6.000001)
        }
    }
}
