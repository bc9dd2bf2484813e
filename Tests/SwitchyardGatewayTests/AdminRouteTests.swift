import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JSONSchema
import Logging
import RedisClient
import Switchyard
import SwitchyardGateway
import SwitchyardRedis
import Testing

@Suite struct AdminRouteTests {
    /// Dead-letters the channel's first `count` events for group `risk`.
    static func deadLetter(_ gateway: TestGateway, count: Int) async throws -> ChannelName {
        let fills = try ChannelName("trades:fill")
        for qty in 1...count { try await gateway.router.publish(to: fills, payload: ["qty": .int(Int64(qty))]) }
        let engine = gateway.router.engine
        try await engine.createGroup("risk", on: fills, start: .beginning)
        let deliveries = try await engine.readGroup(GroupReadRequest(group: "risk", consumer: "c1", channels: [fills], count: count, block: nil))
        for delivery in deliveries {
            try await engine.deadLetter(DeadLetterRequest(
                group: "risk", delivery: delivery, error: SwitchyardError(.handlerError, "boom").body, deliveries: 5))
        }
        return fills
    }

    @Test func deadLettersAreListedRequeuedAndDropped() async throws {
        let gateway = try TestGateway()
        let fills = try await Self.deadLetter(gateway, count: 3)
        try await gateway.test { client in
            let list = try await client.send(.get, "/v1/dlq/trades:fill")
            #expect(list.status == .ok)
            let letters = try #require(list.json["dead_letters"]?.arrayValue)
            #expect(letters.count == 3)
            #expect(letters.first?["group"] == "risk")
            #expect(letters.first?["deliveries"] == 5)
            #expect(letters.first?["error"]?["error_type"] == "handler_error")
            #expect(letters.first?["envelope"]?["sequence_number"] == 1)
            let ids = letters.compactMap { $0["id"] }

            let requeue = try await client.send(.post, "/v1/dlq/trades:fill", body: JSONValue.object(["action": "requeue", "ids": .array([ids[0]])]).serialized())
            #expect(requeue.status == .ok)
            #expect(requeue.json["found"] == 1)
            let drop = try await client.send(.post, "/v1/dlq/trades:fill", body: JSONValue.object(["action": "drop", "ids": .array([ids[1], "9-9"])]).serialized())
            #expect(drop.json["found"] == 1)
            #expect(drop.json["requested"] == 2)
            #expect(try await gateway.router.deadLetters(fills).count == 1)
            let limited = try await client.send(.get, "/v1/dlq/trades:fill?limit=0")
            #expect(limited.json["dead_letters"]?.arrayValue?.count == 0)
        }
    }

    @Test func deadLetterActionsRefuseBadRequests() async throws {
        let gateway = try TestGateway()
        try await gateway.test { client in
            let badAction = try await client.send(.post, "/v1/dlq/trades:fill", body: #"{"action":"explode","ids":[]}"#)
            #expect(badAction.status == .unprocessableContent)
            #expect(badAction.json["details"]?["invalid_fields"]?["action"] != nil)
            let missing = try await client.send(.post, "/v1/dlq/trades:fill", body: "{}")
            #expect(missing.json["details"]?["missing_fields"] == ["action", "ids"])
            let badIDs = try await client.send(.post, "/v1/dlq/trades:fill", body: #"{"action":"drop","ids":[1]}"#)
            #expect(badIDs.status == .unprocessableContent)
            let malformed = try await client.send(.post, "/v1/dlq/trades:fill", body: "nope")
            #expect(malformed.status == .badRequest)
            #expect(malformed.errorType == "malformed_json")
            let badChannel = try await client.send(.get, "/v1/dlq/bad%20name")
            #expect(badChannel.status == .badRequest)
        }
    }

    @Test func contractsAndDocumentsAreServed() async throws {
        let gateway = try TestGateway()
        try await gateway.test { client in
            let contracts = try await client.send(.get, "/v1/contracts")
            let list = try #require(contracts.json["contracts"]?.arrayValue)
            #expect(Set(list.compactMap { $0["id"]?.stringValue }) == ["trades:fill@1", "limited:*@1"])
            let fill = try #require(list.first { $0["id"] == "trades:fill@1" })
            #expect(fill["policy"]?["max_size_bytes"] == 1024)
            #expect(fill["schema"]?["required"] == ["qty"])
            let asyncapi = try await client.send(.get, "/v1/asyncapi.json")
            #expect(asyncapi.json["asyncapi"] == "3.0.0")
            let openapi = try await client.send(.get, "/v1/openapi.json")
            #expect(openapi.status == .ok)
            #expect(openapi.json["openapi"] == "3.1.0")
            let paths = try #require(openapi.json["paths"]?.objectValue?.keys)
            for path in ["/v1/channels/{channel}/events", "/v1/events:batch", "/v1/replay", "/replay", "/v1/channels/{channel}/latest",
                         "/v1/channels", "/v1/groups", "/v1/dlq/{channel}", "/v1/contracts", "/v1/asyncapi.json", "/v1/openapi.json",
                         "/healthz", "/readyz"] {
                #expect(paths.contains(path), "\(path)")
            }
        }
    }

    @Test func healthAndReadinessOnTheEmbeddedEngine() async throws {
        let gateway = try TestGateway()
        try await gateway.test { client in
            let health = try await client.send(.get, "/healthz")
            #expect(health.status == .ok && health.json["status"] == "ok")
            let ready = try await client.send(.get, "/readyz")
            #expect(ready.status == .ok && ready.json["engine"] == "embedded")
        }
    }

    @Test func readinessIs503WhenRedisDoesNotAnswer() async throws {
        var configuration = try RedisConfiguration(url: "redis://127.0.0.1:1")
        configuration.connectTimeout = .milliseconds(200)
        configuration.commandTimeout = .milliseconds(500)
        let engine = RedisEngine(client: try RedisClient(configuration: configuration, logger: TestGateway.logger), logger: TestGateway.logger)
        let gateway = try TestGateway(engine: engine)
        try await gateway.test { client in
            let ready = try await client.send(.get, "/readyz")
            #expect(ready.status == .serviceUnavailable)
            #expect(ready.errorType == "engine_unavailable")
        }
    }

    @Test func unknownRoutesAnswer404InTheWireShape() async throws {
        let gateway = try TestGateway()
        try await gateway.test { client in
            let answer = try await client.send(.get, "/v2/nothing")
            #expect(answer.status == .notFound)
            #expect(answer.errorType == "not_found")
            #expect(answer.json["details"] == [:])
        }
    }
}
