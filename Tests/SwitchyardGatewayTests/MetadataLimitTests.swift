import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JSONSchema
import Switchyard
import SwitchyardGateway
import Testing

/// An envelope's `metadata` is held to the channel's size limit and the credential check, on
/// every path that publishes: the HTTP batch, the WebSocket and the router itself.
@Suite struct MetadataLimitTests {
    static func batch(metadata: String, qty: Int = 1) -> String {
        #"{"events":[{"channel":"trades:fill","data":{"qty":\#(qty)},"metadata":\#(metadata)}]}"#
    }

    static func stored(_ gateway: TestGateway) async throws -> Int {
        try await gateway.router.replay(try ChannelPattern("trades:fill"), limit: 100).count
    }

    @Test func sixteenMebibytesOfMetadataOnAOneKibibyteChannelAreRefused() async throws {
        let gateway = try TestGateway()
        try await gateway.test { client in
            // `trades:fill` takes 1 KiB; the batch body limit (16 MiB) would let this through.
            let huge = #"{"note":"\#(String(repeating: "x", count: 1 << 20))"}"#
            let answer = try await client.send(.post, "/v1/events:batch", body: Self.batch(metadata: huge))
            #expect(answer.status == .contentTooLarge, "\(answer.json)")
            #expect(answer.errorType == "payload_too_large")
            #expect(answer.json["details"]?["metadata_size_bytes"] != nil, "\(answer.json)")

            // Under the metadata cap, but with the payload over the channel's 1 KiB.
            let filler = #"{"note":"\#(String(repeating: "y", count: 1_020))"}"#
            let together = try await client.send(.post, "/v1/events:batch", body: Self.batch(metadata: filler))
            #expect(together.status == .contentTooLarge, "\(together.json)")
            #expect(together.json["details"]?["max_size_bytes"] == 1024, "\(together.json)")
            #expect(try await Self.stored(gateway) == 0)

            let small = try await client.send(.post, "/v1/events:batch", body: Self.batch(metadata: #"{"session":"s-1"}"#))
            #expect(small.status == .created, "\(small.json)")
            #expect(try await Self.stored(gateway) == 1)
        }
    }

    @Test func credentialsInMetadataAreRefusedAtAnyDepth() async throws {
        let gateway = try TestGateway()
        try await gateway.test { client in
            for (metadata, field) in [
                (#"{"password":"hunter2"}"#, "metadata.password"),
                (#"{"user":{"id":"u1","api_key":"k"}}"#, "metadata.user.api_key"),
                (#"{"hops":[{"Authorization":"Bearer x"}]}"#, "metadata.hops.0.Authorization"),
            ] {
                let answer = try await client.send(.post, "/v1/events:batch", body: Self.batch(metadata: metadata))
                #expect(answer.status == .unprocessableContent, "\(metadata): \(answer.json)")
                let fields = answer.json["details"]?["invalid_fields"]?.objectValue?.keys ?? []
                #expect(fields == [field], "\(answer.json)")
            }
            #expect(try await Self.stored(gateway) == 0)
        }
    }

    @Test func theWebSocketPathIsHeldToTheSameLimits() async throws {
        let gateway = try TestGateway()
        try await gateway.live { client in
            let port = try #require(client.port)
            let big = String(repeating: "z", count: 20_000)
            let reply = try await Conversation.publish(port: port, channel: "trades:fill", data: #"{"qty":1},"metadata":{"note":"\#(big)"}"#)
            #expect(reply["error_type"] == "payload_too_large", "\(reply.text)")
            let secret = try await Conversation.publish(port: port, channel: "trades:fill", data: #"{"qty":1},"metadata":{"token":"t"}"#)
            #expect(secret["error_type"] == "validation_error", "\(secret.text)")
        }
        #expect(try await Self.stored(gateway) == 0)
    }

    @Test func theRouterChecksMetadataWhoeverCallsIt() async throws {
        let gateway = try TestGateway()
        let channel = try ChannelName("trades:fill")
        await #expect(throws: SwitchyardError.self) {
            try await gateway.router.publish(to: channel, payload: ["qty": 1], metadata: ["client_secret": "s"])
        }
        let oversized = await #expect(throws: SwitchyardError.self) {
            try await gateway.router.publish(
                to: channel, payload: ["qty": 1], metadata: ["note": .string(String(repeating: "m", count: PayloadGuard.maxMetadataBytes))])
        }
        #expect(oversized?.code == .payloadTooLarge)
        #expect(try await Self.stored(gateway) == 0)
        try await gateway.router.publish(to: channel, payload: ["qty": 1], metadata: ["session": "s-1", "user": "u-9"])
        #expect(try await Self.stored(gateway) == 1)
    }
}
