import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import JSONSchema
import NIOCore
import NIOWebSocket
import Switchyard

/// The HTTP API v1 over a router: one method per route, registered by ``addRoutes(to:)``.
struct Gateway: Sendable {
    let router: Switchyard.Router
    let configuration: GatewayConfiguration
    /// The live feeds WebSocket sessions share.
    let fanout: LiveFanout
    /// Where publishes go: the router, or strict mode's outbox in front of it.
    var publisher: any Publisher
    var healthTracker: HealthTracker? = nil
    var alertMonitor: AlertMonitor? = nil
    var webSocketMetrics: WebSocketMetrics? = nil
    /// Counts the requests refused before authentication.
    var refusals: GatewayRefusals? = nil
    /// The open `/v1/ws` sessions per caller.
    var webSocketSessions = WebSocketSessionCounter()

    func addRoutes(to routes: Hummingbird.Router<GatewayRequestContext>) {
        routes.post("/v1/channels/:channel/events") { request, context in try await self.publish(request, context) }
        routes.post("/v1/publish") { request, context in try await self.publishMessage(request, context) }
        routes.post("/v1/events:batch") { request, context in try await self.publishBatch(request, context) }
        routes.get("/v1/replay") { request, context in try await self.replay(request, context) }
        routes.get("/replay") { request, context in try await self.replay(request, context) }
        routes.get("/v1/channels/:channel/latest") { _, context in try await self.latest(context) }
        routes.get("/v1/channels") { _, context in try await self.channels(context) }
        routes.get("/v1/groups") { request, context in try await self.groups(request, context) }
        routes.get("/v1/dlq/:channel") { request, context in try await self.deadLetters(request, context) }
        routes.post("/v1/dlq/:channel") { request, context in try await self.actOnDeadLetters(request, context) }
        routes.get("/v1/contracts") { _, _ in self.contracts() }
        routes.get("/v1/asyncapi.json") { _, _ in jsonResponse(AsyncAPIDocument.make(from: self.router.contracts)) }
        routes.get("/v1/openapi.json") { _, _ in try OpenAPIDocument.response() }
        routes.get("/healthz") { _, _ in jsonResponse(["status": "ok"]) }
        routes.get("/readyz") { _, _ in await self.readiness() }
        addStateRoutes(to: routes)
        addConsoleRoutes(to: routes)
        addClientRoutes(to: routes)
        routes.ws("/v1/ws", shouldUpgrade: { request, context in
            // NIO upgrades when any token of the Upgrade header is `websocket` (`h2c, websocket`).
            let tokens = request.headers[values: .upgrade].flatMap { $0.split(separator: ",") }
            if tokens.contains(where: { $0.trimmingCharacters(in: .whitespaces).lowercased() == "websocket" }) {
                try await UnmaskedFrameGuard.install(on: context.channel)
            }
            return .upgrade([:])
        }) { inbound, outbound, context in
            let caller = WebSocketSessionCounter.caller(context.requestContext.principal, remoteAddress: context.requestContext.remoteAddress)
            let limit = self.configuration.webSocket.maxSessionsPerPrincipal
            guard self.webSocketSessions.reserve(caller, limit: limit) else {
                self.webSocketMetrics?.refusedSessions.increment()
                let error = SwitchyardError(
                    .limitExceeded, "this caller has \(limit) WebSocket sessions open already, the most it may have; close one first",
                    details: ["max_sessions": .int(Int64(limit))])
                try? await outbound.write(.text(String(decoding: ServerFrame.error(error, id: nil), as: UTF8.self)))
                try? await outbound.close(WebSocketErrorCode(codeNumber: Int(WebSocketCloseCode.policyViolation)), reason: "too many sessions for this caller")
                return
            }
            defer { self.webSocketSessions.release(caller) }
            let session = WebSocketSession(
                router: self.router, configuration: self.configuration, publisher: self.publisher, fanout: self.fanout,
                channel: context.requestContext.channel, principal: context.requestContext.principal,
                metrics: self.webSocketMetrics, logger: context.logger)
            await session.run(inbound: inbound, outbound: outbound)
        }
        if let registry = configuration.metricsRegistry {
            routes.get("/metrics") { request, _ in try self.metrics(registry, request) }
        }
        if let healthTracker {
            routes.get("/v1/health/services") { _, context in try self.healthServices(healthTracker, context) }
        }
        if let alertMonitor {
            routes.get("/v1/alerts") { request, context in try self.alerts(alertMonitor, request, context) }
        }
    }

    // MARK: Publish

    /// `POST /v1/channels/{channel}/events`: the body is the payload, or a whole message in REC.IO's
    /// `{"topic","timestamp","data","metadata"}` shape whose `topic` is the channel; needs a publish grant.
    func publish(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let channel = try channelParameter(context)
        try requirePublish(principal, channel)
        let body: ByteBuffer
        do { body = try await collect(request, limit: payloadLimit(for: channel)) } catch let error as SwitchyardError {
            router.countRefusedPublish(error, channel: channel, source: principal.subject)
            throw error
        }
        return try await publish(to: channel, request, principal) { payloadGuard throws(SwitchyardError) in
            try payloadGuard.check(channel: channel, payload: body.readableBytesView)
        }
    }

    /// `POST /v1/publish`: the body is a whole message in REC.IO's `{"topic","timestamp","data","metadata"}`
    /// shape (seed 000), published on the channel its `topic` names; needs a publish grant for it.
    func publishMessage(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let body = try await collect(request, limit: ChannelPolicy.defaultMaxSizeBytes + configuration.bodySlackBytes)
        let document = try parseJSON(body)
        guard case .object(let message) = document else {
            throw SwitchyardError.validation(missing: [], invalid: [("$", "the message must be a JSON object")])
        }
        guard case .string(let topic)? = message["topic"] else {
            throw SwitchyardError.validation(
                missing: message["topic"] == nil ? ["topic"] : [], invalid: message["topic"] == nil ? [] : [("topic", "must be a channel name")])
        }
        let channel = try ChannelName(topic)
        try requirePublish(principal, channel)
        guard body.readableBytes <= payloadLimit(for: channel) else {
            let error = SwitchyardError(
                .payloadTooLarge, "the message has \(body.readableBytes) bytes; channel '\(channel)' accepts at most \(payloadLimit(for: channel))",
                details: ["size_bytes": .int(Int64(body.readableBytes)), "max_request_bytes": .int(Int64(payloadLimit(for: channel)))])
            router.countRefusedPublish(error, channel: channel, source: principal.subject)
            throw error
        }
        // The body is parsed already: the whole message is checked as that value.
        return try await publish(to: channel, request, principal) { payloadGuard throws(SwitchyardError) in
            try payloadGuard.check(channel: channel, payload: document)
        }
    }

    /// Checks the body with `check`, then publishes it and answers with the receipt.
    private func publish(
        to channel: ChannelName, _ request: Request, _ principal: Principal,
        check: (PayloadGuard) throws(SwitchyardError) -> CheckedPayload
    ) async throws -> Response {
        let eventID = try publishEventID(request, caller: principal)
        let metadata = try traceMetadata(request)
        let checked: CheckedPayload
        do {
            checked = try check(PayloadGuard(registry: router.contracts, allowsUnknownChannels: router.configuration.allowsUnknownChannels))
        } catch {
            router.countRefusedPublish(error, channel: channel, source: principal.subject)
            throw error
        }
        let item = PublishRequest(channel: channel, payload: checked.publishable, metadata: metadata, eventID: eventID, source: principal.publishSource)
        let receipt = try await publisher.publish(item)
        return jsonResponse(RouterReports.receipt(receipt), status: Self.publishStatus([receipt]))
    }

    /// `POST /v1/events:batch`: `{"events":[{"channel","data","metadata"?,"event_id"?,"state"?}]}`; needs
    /// a publish grant for every event's channel, else nothing is stored. A batch of one event may
    /// carry `"state":{"key","value"}`, set atomically with the event.
    func publishBatch(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let body = try await collect(request, limit: configuration.maxBatchBodyBytes)
        let document = try parseJSON(body)
        guard case .array(let events)? = document["events"] else {
            throw SwitchyardError.validation(missing: document["events"] == nil ? ["events"] : [], invalid: document["events"] == nil ? [] : [("events", "must be an array")])
        }
        guard events.count <= configuration.maxBatchEvents else {
            throw SwitchyardError.validation(missing: [], invalid: [("events", "must hold at most \(configuration.maxBatchEvents) events")])
        }
        let trace = try traceMetadata(request)
        var requests: [PublishRequest] = []
        for (index, event) in events.enumerated() {
            var item = try Self.publishRequest(event, index: index)
            if item.metadata[TraceContext.traceparentKey] == nil {
                for (key, value) in trace { item.metadata[key] = value }
            }
            do { try requirePublish(principal, item.channel) } catch {
                var details = error.details
                details["index"] = .int(Int64(index))
                throw SwitchyardError(error.code, error.message, details: details)
            }
            item.source = principal.publishSource
            requests.append(item)
        }
        if let write = try stateWrite(in: events, principal: principal) {
            let receipt = try await publisher.publish(requests[0], state: write)
            return jsonResponse(["receipts": [RouterReports.receipt(receipt)]], status: Self.publishStatus([receipt]))
        }
        let receipts: [PublishReceipt]
        do { receipts = try await publisher.publish(requests) } catch let error as SwitchyardError where !publisher.auditsRefusals {
            // The router audits its own refusals; the outbox's contract check is audited here.
            let item = error.details["index"].flatMap { index in index.doubleValue.map { requests[Int($0)] } } ?? requests.first
            router.auditRefusal(error, channel: item?.channel, who: principal.subject, eventID: item?.eventID)
            throw error
        }
        return jsonResponse(["receipts": .array(receipts.map(RouterReports.receipt))], status: Self.publishStatus(receipts))
    }

    /// The `state` member of a batch's event, `{"key","value"}`: seed 001's publish-then-set as one
    /// atomic step, the key set only when the event is stored. Allowed on a batch of one event,
    /// without strict mode; needs a publish grant for the key.
    private func stateWrite(in events: [JSONValue], principal: Principal) throws(SwitchyardError) -> StateWrite? {
        guard let index = events.firstIndex(where: { $0["state"] != nil }) else { return nil }
        func invalid(_ field: String, _ reason: String) -> SwitchyardError {
            SwitchyardError.validation(missing: [], invalid: [("events.\(index).state\(field)", reason)])
        }
        guard events.count == 1 else { throw invalid("", "is allowed only on a batch of one event") }
        guard publisher.setsStateKeys else { throw invalid("", "is not available in strict mode: the outbox cannot set a state key") }
        guard case .object(let member)? = events[index]["state"] else { throw invalid("", "must be an object {\"key\", \"value\"}") }
        guard case .string(let name)? = member["key"] else { throw invalid(".key", "must be a state key") }
        guard let value = member["value"] else { throw invalid(".value", "is required") }
        let key = try StateKey(name)
        try requirePublish(principal, key, attempted: "state_write")
        return StateWrite(key: key, value: value)
    }

    /// 200 when every event was a duplicate, 202 when the local spool holds some until Redis
    /// returns (their receipts have `stream_id` `spooled` and `sequence_number` 0), else 201.
    static func publishStatus(_ receipts: [PublishReceipt]) -> HTTPResponse.Status {
        if receipts.allSatisfy(\.duplicate) { return .ok }
        if receipts.contains(where: \.isSpooled) { return .accepted }
        return .created
    }

    /// Refuses, and records the refusal in the audit trail, unless `principal` may publish to `channel`.
    /// - Parameter attempted: What was refused when it is not a publish (`requeue`, `drop`).
    func requirePublish(_ principal: Principal, _ channel: ChannelName, attempted: String? = nil) throws(SwitchyardError) {
        do { try principal.requirePublish(channel) } catch {
            router.auditRefusal(error, channel: channel, who: principal.subject, attempted: attempted)
            throw error
        }
    }

    static func publishRequest(_ event: JSONValue, index: Int) throws(SwitchyardError) -> PublishRequest {
        func invalid(_ field: String, _ reason: String) -> SwitchyardError {
            let base = SwitchyardError.validation(missing: [], invalid: [(field.isEmpty ? "events.\(index)" : "events.\(index).\(field)", reason)])
            var details = base.details
            details["index"] = .int(Int64(index))
            return SwitchyardError(base.code, base.message, details: details)
        }
        guard case .object(let object) = event else { throw invalid("", "must be an object") }
        guard case .string(let name)? = object["channel"] else { throw invalid("channel", "must be a string") }
        let channel = try ChannelName(name)
        guard let data = object["data"] else { throw invalid("data", "is required") }
        var metadata = JSONObject()
        if let value = object["metadata"] {
            guard case .object(let given) = value else { throw invalid("metadata", "must be an object") }
            if let traceparent = given[TraceContext.traceparentKey] {
                guard let text = traceparent.stringValue, TraceContext.isValidTraceparent(text) else {
                    throw invalid("metadata.traceparent", Self.traceparentReason)
                }
            }
            metadata = given
        }
        var eventID: EventID?
        if let value = object["event_id"] {
            guard case .string(let text) = value, let id = EventID(text) else { throw invalid("event_id", "must be a UUID") }
            guard IdempotencyKey.isCallerChoosable(id) else { throw invalid("event_id", IdempotencyKey.reservedVersionReason) }
            eventID = id
        }
        return PublishRequest(channel: channel, payload: data, metadata: metadata, eventID: eventID)
    }

    /// The event id from the `event_id` query parameter, or from `Idempotency-Key` scoped to the
    /// caller (see ``IdempotencyKey``).
    func publishEventID(_ request: Request, caller: Principal) throws(SwitchyardError) -> EventID? {
        if let text = request.uri.queryParameters.get("event_id") {
            guard let id = EventID(text) else {
                throw SwitchyardError.validation(missing: [], invalid: [("event_id", "must be a UUID")], message: "Invalid request")
            }
            guard IdempotencyKey.isCallerChoosable(id) else {
                throw SwitchyardError.validation(missing: [], invalid: [("event_id", IdempotencyKey.reservedVersionReason)], message: "Invalid request")
            }
            return id
        }
        guard let key = request.headers[.idempotencyKey] else { return nil }
        return IdempotencyKey.eventID(for: key, caller: caller.subject)
    }

    static let traceparentReason = "must be a W3C traceparent: 00-<32 hex trace id>-<16 hex span id>-<2 hex flags>"

    /// The `traceparent` and `tracestate` headers as envelope metadata (empty without them).
    func traceMetadata(_ request: Request) throws(SwitchyardError) -> JSONObject {
        guard let traceparent = request.headers[.traceparent] else { return [:] }
        guard TraceContext.isValidTraceparent(traceparent) else {
            throw SwitchyardError.validation(missing: [], invalid: [("traceparent", Self.traceparentReason)], message: "Invalid request")
        }
        var metadata: JSONObject = [TraceContext.traceparentKey: .string(traceparent)]
        if let state = request.headers[.tracestate], !state.isEmpty, state.utf8.count <= 512 {
            metadata[TraceContext.tracestateKey] = .string(state)
        }
        return metadata
    }

    /// The body limit for one payload: the channel's `max_size_bytes` plus the slack, so an
    /// oversized body is refused without being read whole.
    func payloadLimit(for channel: ChannelName) -> Int {
        let policy = router.contracts.contract(for: channel)?.policy ?? ChannelPolicy.defaults(for: channel.rawValue)
        return policy.maxSizeBytes + configuration.bodySlackBytes
    }
}

extension HTTPField.Name {
    /// `Idempotency-Key`.
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    /// W3C `traceparent`.
    static let traceparent = HTTPField.Name("traceparent")!
    /// W3C `tracestate`.
    static let tracestate = HTTPField.Name("tracestate")!
}
