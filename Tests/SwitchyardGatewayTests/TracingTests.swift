import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JSONSchema
import PostgresNIO
import RedisClient
import RedisTestSupport
import Switchyard
import SwitchyardGateway
import SwitchyardPostgres
import SwitchyardRedis
import Synchronization
import Testing
import Tracing

/// W3C trace context from the `traceparent` header through the envelope's metadata to the
/// consumer: publish, relay and deliver spans, recorded by a ``TestTracer`` scoped to each test.
@Suite struct TracingTests {
    /// A caller's trace: its `traceparent` header, trace id and span id.
    struct CallerTrace {
        let traceID = TestTracer.randomHex(16)
        let spanID = TestTracer.randomHex(8)
        var header: HTTPFields { [HTTPField.Name("traceparent")!: "00-\(traceID)-\(spanID)-01", HTTPField.Name("tracestate")!: "vendor=1"] }
    }

    @Test func theDeliverSpanIsAChildOfThePublishSpanWhichContinuesTheCallersTrace() async throws {
        let tracer = TestTracer()
        let gateway = try TestGateway()
        let caller = CallerTrace()
        let delivered = Mutex<[Envelope]>([])
        try await withTracer(tracer) {
            try await gateway.test { client in
                let answer = try await client.send(.post, "/v1/channels/trades:fill/events", body: #"{"qty":1}"#, headers: caller.header)
                #expect(answer.status == .created)
                try await gateway.router.withConsumer(
                    group: "traced", patterns: [try ChannelPattern("trades:fill")], options: ConsumerOptions(start: .beginning),
                    handler: { envelope in delivered.withLock { $0.append(envelope) } }
                ) {
                    let done = try await eventually { tracer.spans(trace: caller.traceID).contains { $0.name == "switchyard.deliver" } }
                    #expect(done)
                }
            }
        }
        let spans = tracer.spans(trace: caller.traceID)
        let publish = try #require(spans.first { $0.name == "switchyard.publish" })
        let deliver = try #require(spans.first { $0.name == "switchyard.deliver" })
        #expect(publish.parentSpanID == caller.spanID, "the publish span continues the caller's trace")
        #expect(publish.kind == .producer)
        #expect(publish.attributes["messaging.destination.name"]?.toSpanAttribute() == "trades:fill")
        #expect(publish.attributes["switchyard.sequence_number"]?.toSpanAttribute() == .int64(1))
        #expect(deliver.identity.traceID == publish.identity.traceID)
        #expect(deliver.parentSpanID == publish.identity.spanID, "the deliver span is the publish span's child")
        #expect(deliver.kind == .consumer)
        #expect(deliver.attributes["messaging.consumer.group.name"]?.toSpanAttribute() == "traced")
        let envelope = try #require(delivered.withLock { $0.first })
        #expect(envelope.metadata["traceparent"] == .string("00-\(caller.traceID)-\(publish.identity.spanID)-01"))
        #expect(envelope.metadata["tracestate"] == "vendor=1")
    }

    @Test func aPublishWithoutTraceContextStartsATraceThatItsConsumersContinue() async throws {
        let tracer = TestTracer()
        let gateway = try TestGateway()
        let delivered = Mutex<[Envelope]>([])
        try await withTracer(tracer) {
            try await gateway.router.withConsumer(
                group: "fresh", patterns: [try ChannelPattern("trades:fill")], options: ConsumerOptions(start: .beginning),
                handler: { envelope in delivered.withLock { $0.append(envelope) } }
            ) {
                try await gateway.router.publish(to: try ChannelName("trades:fill"), payload: ["qty": 2])
                let done = try await eventually { delivered.withLock { !$0.isEmpty } }
                #expect(done)
            }
        }
        let traceparent = try #require(delivered.withLock { $0.first }?.metadata["traceparent"]?.stringValue)
        let traceID = String(traceparent.split(separator: "-")[1])
        let spans = try await Self.eventuallySpans(tracer, traceID, ["switchyard.publish", "switchyard.deliver"])
        let publish = try #require(spans.first { $0.name == "switchyard.publish" })
        #expect(publish.parentSpanID == nil, "a root span")
        #expect(spans.first { $0.name == "switchyard.deliver" }?.parentSpanID == publish.identity.spanID)
    }

    @Test func aMalformedTraceparentIsRefusedAndNothingIsStored() async throws {
        let gateway = try TestGateway()
        try await gateway.test { client in
            let header: HTTPFields = [HTTPField.Name("traceparent")!: "00-not-a-trace-01"]
            let answer = try await client.send(.post, "/v1/channels/trades:fill/events", body: #"{"qty":1}"#, headers: header)
            #expect(answer.status == .unprocessableContent && answer.errorType == "validation_error")
            #expect(answer.json["details"]?["invalid_fields"]?["traceparent"] != nil, "\(answer.json)")
            let batch = #"{"events":[{"channel":"trades:fill","data":{"qty":1},"metadata":{"traceparent":"00-0000"}}]}"#
            let refused = try await client.send(.post, "/v1/events:batch", body: batch)
            #expect(refused.errorType == "validation_error" && refused.json["details"]?["index"] == 0, "\(refused.json)")
            #expect(refused.json["details"]?["invalid_fields"]?["events.0.metadata.traceparent"] != nil, "\(refused.json)")
            #expect(try await gateway.router.latest(try ChannelName("trades:fill")) == nil)
        }
    }

    @Test func traceparentsAreCheckedForTheW3CForm() {
        #expect(TraceContext.isValidTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"))
        #expect(!TraceContext.isValidTraceparent("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"), "uppercase")
        #expect(!TraceContext.isValidTraceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01"), "zero trace id")
        #expect(!TraceContext.isValidTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"), "zero span id")
        #expect(!TraceContext.isValidTraceparent("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), "version ff")
        #expect(!TraceContext.isValidTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"))
        #expect(TraceContext.isValidTraceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"), "a later version may add fields")
    }

    /// Strict mode: the caller's trace reaches the outbox row, the relay's span continues it, the
    /// publish span is the relay span's child and the deliver span the publish span's.
    @Test(.needs(.redis, .postgres)) func inStrictModeTheRelaySpanSitsBetweenTheCallerAndThePublish() async throws {
        let configuration = try TestEnvironment.configuration("REDIS_URL")
        let tracer = TestTracer()
        let caller = CallerTrace()
        try await StrictGatewayTests.withDatabase("sy_trace") { url in
            let channel = "trades:trace_\(UInt32.random(in: .min ... .max))"
            let contracts = try ContractRegistry([
                try Contract(channel: try ChannelPattern(channel), schema: ["type": "object"], policy: ChannelPolicy(retentionSeconds: 600)),
            ])
            try await RedisServerGate.shared.shared {
                try await withTracer(tracer) {
                    let engine = RedisEngine(client: try RedisClient(configuration: configuration, logger: TestGateway.logger), logger: TestGateway.logger)
                    let router = Switchyard.Router(
                        contracts: contracts, engine: engine,
                        configuration: RouterConfiguration(source: "gateway-tests", enforcesRateLimits: false), logger: TestGateway.logger)
                    let strict = try StrictMode(
                        url: url, router: router, relayConfiguration: Relay.Configuration(pollInterval: .milliseconds(50)), logger: TestGateway.logger)
                    let app = try buildApplication(router: router, configuration: GatewayConfiguration(port: 0, authenticator: OpenAuthenticator()), logger: TestGateway.logger, publisher: strict)
                    try await app.test(.router) { client in
                        let ready = try await eventually { try await client.send(.get, "/readyz").status == .ok }
                        #expect(ready)
                        let answer = try await client.send(.post, "/v1/channels/\(channel)/events", body: #"{"n":1}"#, headers: caller.header)
                        #expect(answer.status == .created, "\(answer.json)")
                        try await router.withConsumer(
                            group: "traced", patterns: [try ChannelPattern(channel)], options: ConsumerOptions(start: .beginning), handler: { _ in }
                        ) {
                            let done = try await eventually { tracer.spans(trace: caller.traceID).contains { $0.name == "switchyard.deliver" } }
                            #expect(done)
                        }
                    }
                }
            }
        }
        let spans = tracer.spans(trace: caller.traceID)
        let relay = try #require(spans.first { $0.name == "switchyard.relay" }, "\(spans.map(\.name))")
        let publish = try #require(spans.first { $0.name == "switchyard.publish" })
        let deliver = try #require(spans.first { $0.name == "switchyard.deliver" })
        #expect(relay.parentSpanID == caller.spanID)
        #expect(publish.parentSpanID == relay.identity.spanID)
        #expect(deliver.parentSpanID == publish.identity.spanID)
    }

    static func eventuallySpans(_ tracer: TestTracer, _ traceID: String, _ names: Set<String>) async throws -> [TestTracer.Record] {
        _ = try await eventually { names.isSubset(of: Set(tracer.spans(trace: traceID).map(\.name))) }
        return tracer.spans(trace: traceID)
    }
}
