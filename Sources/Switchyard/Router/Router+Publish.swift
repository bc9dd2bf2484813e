import JSONSchema

extension Router {
    /// Checks a payload against its channel's contract, stamps an envelope on it and stores it.
    ///
    /// In backtest mode, the handlers of consumers whose patterns match the channel run, in the
    /// order they started, before this returns.
    /// - Parameters:
    ///   - channel: The channel.
    ///   - payload: A JSON object satisfying the channel's contract.
    ///   - metadata: Trace context, session, user.
    ///   - eventID: The event id; a new UUIDv7 when `nil`. The same id within the dedup window is stored once.
    ///   - source: The envelope `source` (and the rate limit's key); ``RouterConfiguration/source`` when `nil`.
    /// - Returns: Where the event is; for a duplicate, the first publish's receipt marked as such.
    /// - Throws: ``SwitchyardError``: `unknown_channel`, `payload_too_large`, `validation_error`
    ///   (the wire shape; nothing is stored), or `rate_limited` with ``SwitchyardError/retryAfter``.
    @discardableResult
    public func publish(
        to channel: ChannelName, payload: JSONValue, metadata: JSONObject = [:], eventID: EventID? = nil, source: String? = nil
    ) async throws(SwitchyardError) -> PublishReceipt {
        let request = try appendRequest(channel: channel, payload: payload, metadata: metadata, eventID: eventID, source: source)
        let receipts: [PublishReceipt]
        do { receipts = try await store([request]) } catch {
            metrics.refused.increment()
            throw error
        }
        await delivered([request], receipts)
        return receipts[0]
    }

    /// Publishes several events in order. Every payload is checked before anything is stored,
    /// and the rate limit is taken for the whole batch: a refusal stores nothing.
    /// - Returns: One receipt per request, in order.
    /// - Throws: ``SwitchyardError``, as ``publish(to:payload:metadata:eventID:source:)`` does; the
    ///   details of a check failure name the request's `index`.
    @discardableResult
    public func publish(_ batch: [PublishRequest]) async throws(SwitchyardError) -> [PublishReceipt] {
        var requests: [AppendRequest] = []
        requests.reserveCapacity(batch.count)
        for (index, item) in batch.enumerated() {
            do {
                requests.append(try appendRequest(channel: item.channel, payload: item.payload, metadata: item.metadata, eventID: item.eventID, source: item.source))
            } catch {
                var details = error.details
                details["index"] = .int(Int64(index))
                throw SwitchyardError(error.code, error.message, details: details, file: error.file, line: error.line)
            }
        }
        let receipts: [PublishReceipt]
        do { receipts = try await store(requests) } catch {
            metrics.refused.increment(by: Int64(batch.count))
            throw error
        }
        await delivered(requests, receipts)
        return receipts
    }

    /// Stores through the engine; the embedded engine is called synchronously, so a backtest
    /// publish has no suspension point before its handlers run.
    private func store(_ requests: [AppendRequest]) async throws(SwitchyardError) -> [PublishReceipt] {
        if let embedded { return try embedded.appendNow(requests) }
        return try await engine.append(requests)
    }

    private func appendRequest(
        channel: ChannelName, payload: JSONValue, metadata: JSONObject, eventID: EventID?, source: String?
    ) throws(SwitchyardError) -> AppendRequest {
        let checked: CheckedPayload
        do { checked = try payloadGuard.check(channel: channel, payload: payload) } catch {
            metrics.refused.increment()
            throw error
        }
        let policy = policy(for: channel, checked: checked)
        let rules = AppendRules(
            retention: .seconds(policy.retentionSeconds), dedupWindow: configuration.dedupWindow,
            rateLimit: configuration.enforcesRateLimits ? policy.rateLimit : nil, durable: policy.delivery != .live)
        let now = configuration.clock.now()
        return AppendRequest(
            eventID: eventID ?? nextEventID(at: now), channel: channel, timestamp: now,
            source: source ?? configuration.source, schema: checked.schemaID, data: checked.payload, metadata: metadata, rules: rules)
    }

    /// Counts the stored events and, in backtest mode, runs the inline consumers on them.
    private func delivered(_ requests: [AppendRequest], _ receipts: [PublishReceipt]) async {
        var fresh = 0
        for receipt in receipts where !receipt.duplicate { fresh += 1 }
        metrics.published.increment(by: Int64(fresh))
        if fresh < receipts.count { metrics.duplicates.increment(by: Int64(receipts.count - fresh)) }
        guard configuration.mode == .backtest else { return }
        let consumers = inlineConsumers.withLock { $0 }
        guard !consumers.isEmpty else { return }
        for (request, receipt) in zip(requests, receipts) where !receipt.duplicate {
            let envelope = request.envelope(sequenceNumber: receipt.sequenceNumber, timestamp: receipt.timestamp)
            let delivery = Delivery(channel: receipt.channel, position: receipt.streamID, envelope: envelope, deliveries: 1)
            for (_, consumer) in consumers where consumer.matches(receipt.channel) {
                await consumer.handle(delivery, router: self)
            }
        }
    }
}
