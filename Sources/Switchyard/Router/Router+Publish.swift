import JSONSchema
import Tracing

extension Router {
    /// Checks a payload against its channel's contract, stamps an envelope on it and stores it.
    ///
    /// In backtest mode, the handlers of consumers whose patterns match the channel run, in the
    /// order they started, before this returns.
    /// - Parameters:
    ///   - channel: The channel.
    ///   - payload: A JSON object satisfying the channel's contract, or a whole message in REC.IO's
    ///     `{"topic","timestamp","data","metadata"}` shape (``TopicMessage``): its `topic` must be
    ///     the channel, its `data` is the payload, its `metadata` is merged under `metadata`, and its
    ///     `timestamp` becomes the envelope's `event_time`.
    ///   - metadata: Trace context, session, user.
    ///   - eventID: The event id; a new UUIDv7 when `nil`. The same id within the dedup window is stored once.
    ///   - source: The envelope `source` (and the rate limit's key); ``RouterConfiguration/source`` when `nil`.
    ///   - stateWrite: A state key to set in the same atomic step, only when the event is stored:
    ///     not when the publish is refused or rate-limited, nor for a duplicate (the first publish
    ///     set it). Its value is checked as ``StateStore/set(_:_:)`` checks it, before anything is stored.
    /// - Returns: Where the event is; for a duplicate, the first publish's receipt marked as such.
    /// - Throws: ``SwitchyardError``: `unknown_channel`, `payload_too_large`, `validation_error`
    ///   (the wire shape; nothing is stored), or `rate_limited` with ``SwitchyardError/retryAfter``;
    ///   with a state write also `unknown_state_key`, and `engine_unavailable` when Redis is unreachable
    ///   (a publish with a state write is never spooled).
    @discardableResult
    public func publish(
        to channel: ChannelName, payload: JSONValue, metadata: JSONObject = [:], eventID: EventID? = nil, source: String? = nil,
        state stateWrite: StateWrite? = nil
    ) async throws(SwitchyardError) -> PublishReceipt {
        let started = ContinuousClock.now
        let span = Self.startPublishSpan(channel: channel, metadata: metadata)
        defer { span.end() }
        let request: AppendRequest
        let size: Int
        var assignment: (StateAssignment, family: String)?
        do {
            (request, size) = try appendRequest(
                channel: channel, payload: payload, metadata: Self.traced(metadata, span), eventID: eventID, source: source)
            if let stateWrite { assignment = try state.check(stateWrite.key, stateWrite.value) }
        } catch {
            metrics.refused(channel, error)
            auditRefused([(channel, eventID, source)], error)
            span.fail(error)
            throw error
        }
        let receipts: [PublishReceipt]
        do { receipts = try await store([request], then: assignment?.0) } catch {
            metrics.refused(channel, error)
            auditRefused([(channel, request.eventID, request.source)], error)
            span.fail(error)
            throw error
        }
        metrics.latency(ContinuousClock.now - started, channels: [channel])
        if let assignment, !receipts[0].duplicate { state.wrote(family: assignment.family) }
        Self.describe(span, receipts[0])
        await delivered([request], receipts, sizes: [size])
        return receipts[0]
    }

    /// Publishes several events in order. Every payload is checked before anything is stored,
    /// and the rate limit is taken for the whole batch: a refusal stores nothing.
    /// - Returns: One receipt per request, in order.
    /// - Throws: ``SwitchyardError``, as ``publish(to:payload:metadata:eventID:source:)`` does; the
    ///   details of a check failure name the request's `index`.
    @discardableResult
    public func publish(_ batch: [PublishRequest]) async throws(SwitchyardError) -> [PublishReceipt] {
        try await publishStoring(batch).map(\.receipt)
    }

    /// Publishes several events in order, as ``publish(_:)`` does, and returns each event's
    /// envelope as it was stored (its `metadata` carries the publish span's trace context).
    /// - Returns: One receipt and envelope per request, in order; for a duplicate, the first
    ///   publish's receipt and this request's envelope; for an event kept in the engine's spool,
    ///   an envelope with sequence number 0, since its number is given when it is stored.
    /// - Throws: ``SwitchyardError``, as ``publish(_:)`` does.
    public func publishStoring(_ batch: [PublishRequest]) async throws(SwitchyardError) -> [(receipt: PublishReceipt, envelope: Envelope)] {
        let started = ContinuousClock.now
        let spans = batch.map { Self.startPublishSpan(channel: $0.channel, metadata: $0.metadata) }
        defer { for span in spans { span.end() } }
        var requests: [AppendRequest] = []
        var sizes: [Int] = []
        requests.reserveCapacity(batch.count)
        for (index, item) in batch.enumerated() {
            do {
                let (request, size) = try appendRequest(
                    channel: item.channel, payload: item.payload, metadata: Self.traced(item.metadata, spans[index]),
                    eventID: item.eventID, source: item.source, payloadAlreadyLive: item.payloadAlreadyLive)
                requests.append(request)
                sizes.append(size)
            } catch {
                metrics.refused(item.channel, error)
                auditRefused([(item.channel, item.eventID, item.source)], error)
                for span in spans { span.fail(error) }
                var details = error.details
                details["index"] = .int(Int64(index))
                throw SwitchyardError(error.code, error.message, details: details, file: error.file, line: error.line)
            }
        }
        let receipts: [PublishReceipt]
        do { receipts = try await store(requests) } catch {
            for item in batch { metrics.refused(item.channel, error) }
            auditRefused(requests.map { ($0.channel, $0.eventID, $0.source) }, error)
            for span in spans { span.fail(error) }
            throw error
        }
        metrics.latency(ContinuousClock.now - started, channels: batch.map(\.channel))
        for (span, receipt) in zip(spans, receipts) { Self.describe(span, receipt) }
        await delivered(requests, receipts, sizes: sizes)
        return zip(requests, receipts).map { request, receipt in
            (receipt, request.envelope(sequenceNumber: receipt.sequenceNumber ?? 0, timestamp: receipt.timestamp))
        }
    }

    /// A `switchyard.publish` span, a child of the trace in `metadata` or of the task's current span.
    static func startPublishSpan(channel: ChannelName, metadata: JSONObject) -> any Span {
        let span = startSpan("switchyard.publish", context: TraceContext.extract(from: metadata), ofKind: .producer)
        guard span.isRecording else { return span }
        span.attributes["messaging.system"] = "switchyard"
        span.attributes["messaging.operation.type"] = "send"
        span.attributes["messaging.destination.name"] = channel.rawValue
        return span
    }

    /// `metadata` with the publish span's trace context (a sampled-out span's too: its context
    /// still propagates); unchanged without a tracer.
    static func traced(_ metadata: JSONObject, _ span: any Span) -> JSONObject {
        span is NoOpTracer.NoOpSpan ? metadata : TraceContext.inject(span.context, into: metadata)
    }

    /// Adds what the receipt tells to a publish span.
    static func describe(_ span: any Span, _ receipt: PublishReceipt) {
        guard span.isRecording else { return }
        span.attributes["messaging.message.id"] = receipt.eventID.description
        span.attributes["switchyard.sequence_number"] = receipt.sequenceNumber
        span.attributes["switchyard.duplicate"] = receipt.duplicate
    }

    /// Stores through the engine; an engine that can store synchronously (``SynchronousEngine``,
    /// the embedded one) is called so, and a backtest publish has no suspension point before its
    /// handlers run.
    private func store(_ requests: [AppendRequest], then assignment: StateAssignment? = nil) async throws(SwitchyardError) -> [PublishReceipt] {
        if let synchronous { return try synchronous.appendNow(requests, then: assignment) }
        if let assignment { return [try await engine.append(requests[0], then: assignment)] }
        return try await engine.append(requests)
    }

    /// The channel's `acknowledge` policy; without one, replicated for a critical channel where
    /// the engine keeps replicas.
    static func acknowledgement(_ policy: ChannelPolicy) -> AppendRules.Acknowledgement {
        switch policy.acknowledge {
        case .primary?: .primary
        case .replicated?: .replicated
        default: policy.critical ? .replicatedWhereReplicas : .primary
        }
    }

    private func appendRequest(
        channel: ChannelName, payload: JSONValue, metadata: JSONObject, eventID: EventID?, source: String?, payloadAlreadyLive: Bool = false
    ) throws(SwitchyardError) -> (AppendRequest, size: Int) {
        let checked = try payloadGuard.check(channel: channel, payload: payload)
        let metadata = checked.metadata(merging: metadata)
        try payloadGuard.checkMetadata(metadata, channel: channel, with: checked)
        let policy = policy(for: channel, checked: checked)
        let rules = AppendRules(
            retention: .seconds(policy.retentionSeconds), dedupWindow: configuration.dedupWindow,
            rateLimit: configuration.enforcesRateLimits ? policy.rateLimit : nil, durable: policy.delivery != .live,
            liveMessage: policy.liveMessage, payloadAlreadyLive: payloadAlreadyLive, acknowledgement: Self.acknowledgement(policy))
        let now = configuration.clock.now()
        let request = try secured(
            AppendRequest(
                eventID: eventID ?? nextEventID(at: now), channel: channel, timestamp: now,
                source: source ?? configuration.source, schema: checked.schemaID, data: checked.payload, metadata: metadata, rules: rules,
                eventTime: checked.eventTime),
            contract: checked.contract, policy: policy)
        return (request, checked.sizeBytes)
    }

    /// Counts the stored events (and the duplicates dropped) and, in backtest mode, runs the
    /// inline consumers on them.
    private func delivered(_ requests: [AppendRequest], _ receipts: [PublishReceipt], sizes: [Int]) async {
        var stored: [ChannelName: [Int]] = [:]
        var duplicates = 0
        for (receipt, size) in zip(receipts, sizes) {
            if receipt.duplicate { duplicates += 1 } else { stored[receipt.channel, default: []].append(size) }
        }
        for (channel, sizes) in stored { metrics.stored(channel, sizes: sizes) }
        if duplicates > 0 { metrics.dedupDropped.increment(by: Int64(duplicates)) }
        auditPublished(requests, receipts)
        guard configuration.mode == .backtest else { return }
        let consumers = inlineConsumers.withLock { $0 }
        guard !consumers.isEmpty else { return }
        for (request, receipt) in zip(requests, receipts) where receipt.status == .stored {
            guard let sequenceNumber = receipt.sequenceNumber else { continue }
            let envelope = request.envelope(sequenceNumber: sequenceNumber, timestamp: receipt.timestamp)
            let delivery = Delivery(channel: receipt.channel, position: receipt.streamID, envelope: envelope, deliveries: 1)
            for (_, consumer) in consumers where consumer.matches(receipt.channel) {
                await consumer.handle(delivery, router: self)
            }
        }
    }
}

extension Router {
    /// Counts a publish refused before it reached the router (a gateway that checks the raw
    /// body itself) under ``SwitchyardMetrics/Name/publishErrors``, as the router counts its own.
    /// - Parameters:
    ///   - error: The refusal; its code is the `reason` label.
    ///   - channel: The channel the publish was for.
    ///   - source: Who published (a token's subject), for the audit trail; the router's source when `nil`.
    public func countRefusedPublish(_ error: SwitchyardError, channel: ChannelName, source: String? = nil) {
        metrics.refused(channel, error)
        auditRefused([(channel, nil, source)], error)
    }
}
