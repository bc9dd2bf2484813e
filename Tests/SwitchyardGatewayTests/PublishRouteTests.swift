import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JSONSchema
import Switchyard
import SwitchyardGateway
import Testing

@Suite struct PublishRouteTests {
    @Test func publishStoresTheEventAndAnswersWithItsReceipt() async throws {
        let gateway = try TestGateway()
        try await gateway.test { client in
            let first = try await client.send(.post, "/v1/channels/trades:fill/events", body: #"{"qty":3}"#)
            #expect(first.status == .created)
            #expect(first.json["sequence_number"] == 1)
            #expect(first.json["duplicate"] == false && first.json["status"] == "stored")
            #expect(EventID(first.json["event_id"]?.stringValue ?? "") != nil)
            #expect(first.json["stream_id"]?.stringValue?.isEmpty == false)
            let second = try await client.send(.post, "/v1/channels/trades:fill/events", body: #"{"qty":4}"#)
            #expect(second.json["sequence_number"] == 2)
        }
    }

    @Test func anIdempotencyKeyStoresTheEventOnce() async throws {
        let gateway = try TestGateway()
        try await gateway.test { client in
            let headers: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "order-77-fill-1"]
            let first = try await client.send(.post, "/v1/channels/trades:fill/events", body: #"{"qty":1}"#, headers: headers)
            let again = try await client.send(.post, "/v1/channels/trades:fill/events", body: #"{"qty":1}"#, headers: headers)
            #expect(first.status == .created)
            #expect(again.status == .ok)
            #expect(again.json["duplicate"] == true && again.json["status"] == "duplicate")
            #expect(again.json["event_id"] == first.json["event_id"])
            #expect(again.json["sequence_number"] == 1)
            #expect(first.json["event_id"]?.stringValue == IdempotencyKey.eventID(for: "order-77-fill-1", caller: "anonymous")?.description)
        }
    }

    @Test func idempotencyKeysMapDeterministicallyToUUIDv8PerCaller() throws {
        let id = try #require(IdempotencyKey.eventID(for: "order-77", caller: "risk-service"))
        #expect(id == IdempotencyKey.eventID(for: "order-77", caller: "risk-service"))
        #expect(id != IdempotencyKey.eventID(for: "order-78", caller: "risk-service"))
        #expect(id != IdempotencyKey.eventID(for: "order-77", caller: "quote-feed"))
        // The NUL between caller and key keeps ("ab", "c") and ("a", "bc") apart.
        #expect(IdempotencyKey.eventID(for: "c", caller: "ab") != IdempotencyKey.eventID(for: "bc", caller: "a"))
        #expect(id.version == 8)
        #expect(id.description.dropFirst(19).first.map { "89ab".contains($0) } == true)
        let uuid = "0193a2c4-7b1e-7c3a-9f1e-3b2d1c0a9e8f"
        #expect(IdempotencyKey.eventID(for: uuid, caller: "risk-service")?.description != uuid, "a UUID key is scoped to its caller too")
        #expect(IdempotencyKey.eventID(for: "", caller: "risk-service") == nil)
    }

    /// A caller cannot choose a version 8 event id, the version of ids derived from
    /// Idempotency-Key: computing another caller's derived id and publishing it first gets 422.
    @Test func aCallerChosenEventIDMayNotBeADerivedOne() async throws {
        let gateway = try TestGateway(authenticator: NamedAuthenticator())
        let derived = try #require(IdempotencyKey.eventID(for: "order-77-fill-1", caller: "victim"))
        try await gateway.live { client in
            let attacker: HTTPFields = [HTTPField.Name("X-Test-Subject")!: "attacker"]
            let query = try await client.send(.post, "/v1/channels/trades:fill/events?event_id=\(derived)", body: #"{"qty":9}"#, headers: attacker)
            #expect(query.status == .unprocessableContent && query.json["details"]?["invalid_fields"]?["event_id"] != nil, "\(query.json)")
            let batch = try await client.send(
                .post, "/v1/events:batch", body: #"{"events":[{"channel":"trades:fill","data":{"qty":9},"event_id":"\#(derived)"}]}"#, headers: attacker)
            #expect(batch.status == .unprocessableContent, "\(batch.json)")
            let port = try #require(client.port)
            let socket = try await Conversation.publish(port: port, channel: "trades:fill", data: #"{"qty":9},"event_id":"\#(derived)""#)
            #expect(socket["error_type"] == "validation_error", "\(socket.text)")
            let victim = try await client.send(
                .post, "/v1/channels/trades:fill/events", body: #"{"qty":1}"#,
                headers: [HTTPField.Name("Idempotency-Key")!: "order-77-fill-1", HTTPField.Name("X-Test-Subject")!: "victim"])
            #expect(victim.status == .created && victim.json["event_id"]?.stringValue == derived.description, "\(victim.json)")
        }
    }

    /// Another publisher of the channel sends the victim's key first: the victim's publish is
    /// still stored, under an id of its own, and the victim's retry is the duplicate.
    @Test func anotherCallerCannotClaimAnIdempotencyKeyFirst() async throws {
        let gateway = try TestGateway(authenticator: NamedAuthenticator())
        try await gateway.test { client in
            let key = "order-77-fill-1"
            func publish(as caller: String, qty: Int) async throws -> Answer {
                try await client.send(
                    .post, "/v1/channels/trades:fill/events", body: #"{"qty":\#(qty)}"#,
                    headers: [HTTPField.Name("Idempotency-Key")!: key, HTTPField.Name("X-Test-Subject")!: caller])
            }
            let attacker = try await publish(as: "attacker", qty: 999)
            let victim = try await publish(as: "victim", qty: 1)
            #expect(attacker.status == .created && victim.status == .created, "\(victim.json)")
            #expect(victim.json["duplicate"] == false)
            #expect(victim.json["event_id"] != attacker.json["event_id"])
            let retry = try await publish(as: "victim", qty: 1)
            #expect(retry.status == .ok && retry.json["event_id"] == victim.json["event_id"])
            let stored = try await gateway.router.replay(try ChannelPattern("trades:fill"), limit: 10)
            #expect(stored.map { $0.data["qty"] } == [999, 1])
            #expect(stored.map(\.source) == ["attacker", "victim"])
        }
    }

    @Test func anEventIDQueryParameterMakesThePublishIdempotent() async throws {
        let gateway = try TestGateway()
        try await gateway.test { client in
            let uri = "/v1/channels/trades:fill/events?event_id=0193a2c4-7b1e-7c3a-9f1e-3b2d1c0a9e8f"
            let first = try await client.send(.post, uri, body: #"{"qty":1}"#)
            let again = try await client.send(.post, uri, body: #"{"qty":1}"#)
            #expect(first.json["event_id"] == "0193a2c4-7b1e-7c3a-9f1e-3b2d1c0a9e8f")
            #expect(again.status == .ok && again.json["duplicate"] == true)
            let bad = try await client.send(.post, "/v1/channels/trades:fill/events?event_id=nope", body: #"{"qty":1}"#)
            #expect(bad.status == .unprocessableContent)
            #expect(bad.errorType == "validation_error")
        }
    }

    @Test func refusalsAnswerWithTheWireShapeAndTheirStatus() async throws {
        let gateway = try TestGateway()
        try await gateway.test { client in
            let invalid = try await client.send(.post, "/v1/channels/trades:fill/events", body: #"{"qty":"ten"}"#)
            #expect(invalid.status == .unprocessableContent)
            #expect(invalid.json == [
                "error_type": "validation_error", "message": "Invalid message schema",
                "details": ["missing_fields": [], "invalid_fields": ["qty": "must be an integer"]],
            ])
            let missing = try await client.send(.post, "/v1/channels/trades:fill/events", body: #"{}"#)
            #expect(missing.json["details"]?["missing_fields"] == ["qty"])
            let secret = try await client.send(.post, "/v1/channels/trades:fill/events", body: #"{"qty":1,"api_key":"x"}"#)
            #expect(secret.status == .unprocessableContent)
            let notObject = try await client.send(.post, "/v1/channels/trades:fill/events", body: "[1]")
            #expect(notObject.status == .unprocessableContent)
            let malformed = try await client.send(.post, "/v1/channels/trades:fill/events", body: #"{"qty":"#)
            #expect(malformed.status == .badRequest)
            #expect(malformed.errorType == "malformed_json")
            let unknown = try await client.send(.post, "/v1/channels/nobody:here/events", body: "{}")
            #expect(unknown.status == .notFound)
            #expect(unknown.errorType == "unknown_channel")
            let badName = try await client.send(.post, "/v1/channels/bad%20name/events", body: "{}")
            #expect(badName.status == .badRequest)
            #expect(badName.errorType == "invalid_channel")
            let large = try await client.send(.post, "/v1/channels/trades:fill/events", body: #"{"qty":1,"note":""# + String(repeating: "x", count: 2000) + #""}"#)
            #expect(large.status == .contentTooLarge)
            #expect(large.errorType == "payload_too_large")
            #expect(large.json["details"]?["max_size_bytes"] == 1024)
            let stored = try await gateway.router.info(try ChannelName("trades:fill"))
            #expect(stored.lastSequenceNumber == 0)
        }
    }

    @Test func aBodyFarAboveTheLimitIsRefusedUnread() async throws {
        let gateway = try TestGateway()
        try await gateway.test { client in
            let huge = try await client.send(.post, "/v1/channels/trades:fill/events", body: String(repeating: " ", count: 3 << 20))
            #expect(huge.status == .contentTooLarge)
            #expect(huge.errorType == "payload_too_large")
        }
    }

    @Test func rateLimitedPublishesGet429WithRetryAfter() async throws {
        let gateway = try TestGateway()
        try await gateway.test { client in
            // Three at once against 1/s with a burst of 1: one is taken, and a loaded machine cannot
            // spread three concurrent requests over the two seconds that would refill two tokens.
            async let a = client.send(.post, "/v1/channels/limited:a/events", body: "{}")
            async let b = client.send(.post, "/v1/channels/limited:a/events", body: "{}")
            async let c = client.send(.post, "/v1/channels/limited:a/events", body: "{}")
            let answers = try await [a, b, c]
            #expect(answers.contains { $0.status == .created })
            let refused = try #require(answers.first { $0.status == .tooManyRequests }, "\(answers.map(\.status))")
            #expect(refused.errorType == "rate_limited")
            let retryAfter = try #require(refused.headers[.retryAfter].flatMap { Int($0) })
            #expect(retryAfter >= 1)
            #expect(answers.allSatisfy { $0.status == .created || $0.status == .tooManyRequests })
        }
    }

    @Test func unknownChannelsAreAcceptedWhenAllowed() async throws {
        let gateway = try TestGateway(allowsUnknownChannels: true)
        try await gateway.test { client in
            let answer = try await client.send(.post, "/v1/channels/nobody:here/events", body: #"{"a":1}"#)
            #expect(answer.status == .created)
        }
    }

    @Test func batchPublishesInOrderOrNothing() async throws {
        let gateway = try TestGateway()
        try await gateway.test { client in
            let batch = """
                {"events":[{"channel":"trades:fill","data":{"qty":1},"metadata":{"user_id":"u1"}},
                           {"channel":"trades:fill","data":{"qty":2},"event_id":"0193a2c4-7b1e-7c3a-9f1e-3b2d1c0a9e8f"}]}
                """
            let answer = try await client.send(.post, "/v1/events:batch", body: batch)
            #expect(answer.status == .created)
            let receipts = try #require(answer.json["receipts"]?.arrayValue)
            #expect(receipts.map { $0["sequence_number"] } == [1, 2])
            #expect(receipts[1]["event_id"] == "0193a2c4-7b1e-7c3a-9f1e-3b2d1c0a9e8f")

            let refused = try await client.send(.post, "/v1/events:batch", body: #"{"events":[{"channel":"trades:fill","data":{"qty":3}},{"channel":"trades:fill","data":{}}]}"#)
            #expect(refused.status == .unprocessableContent)
            #expect(refused.json["details"]?["index"] == 1)
            #expect(try await gateway.router.info(try ChannelName("trades:fill")).lastSequenceNumber == 2)

            let noEvents = try await client.send(.post, "/v1/events:batch", body: #"{"evts":[]}"#)
            #expect(noEvents.status == .unprocessableContent)
            #expect(noEvents.json["details"]?["missing_fields"] == ["events"])
            let badID = try await client.send(.post, "/v1/events:batch", body: #"{"events":[{"channel":"trades:fill","data":{"qty":1},"event_id":"x"}]}"#)
            #expect(badID.status == .unprocessableContent)
            let badChannel = try await client.send(.post, "/v1/events:batch", body: #"{"events":[{"channel":"no good","data":{}}]}"#)
            #expect(badChannel.status == .badRequest)
            #expect(badChannel.errorType == "invalid_channel")
            let unknown = try await client.send(.post, "/v1/events:batch", body: #"{"events":[{"channel":"nobody:here","data":{}}]}"#)
            #expect(unknown.status == .notFound)
            let malformed = try await client.send(.post, "/v1/events:batch", body: "{")
            #expect(malformed.status == .badRequest)
            #expect(malformed.errorType == "malformed_json")
        }
    }
}
