import JSONSchema

extension Router {
    /// Publishes a payload generated from a contract for one channel, on that channel.
    ///
    /// ```swift
    /// try await router.publish(TradesOrderFilled(orderId: "ord_1", fillId: "fill_1", filledQuantity: 10, …))
    /// ```
    /// The compiler checks the payload's shape; the router then checks it against the channel's
    /// contract exactly as ``publish(to:payload:metadata:eventID:source:state:)`` does.
    /// - Parameters:
    ///   - payload: The payload.
    ///   - metadata: Trace context, session, user.
    ///   - eventID: The event id; a new UUIDv7 when `nil`.
    ///   - source: The envelope `source`; ``RouterConfiguration/source`` when `nil`.
    ///   - stateWrite: A state key to set with the event, as ``publish(to:payload:metadata:eventID:source:state:)`` sets it.
    /// - Returns: Where the event is; for a duplicate, the first publish's receipt marked as such.
    /// - Throws: ``SwitchyardError``: those of ``publish(to:payload:metadata:eventID:source:state:)``, and
    ///   `validation_error` when a member cannot be written as JSON.
    @discardableResult
    public func publish(
        _ payload: some ChannelPayload, metadata: JSONObject = [:], eventID: EventID? = nil, source: String? = nil,
        state stateWrite: StateWrite? = nil
    ) async throws(SwitchyardError) -> PublishReceipt {
        let request = try PublishRequest(payload, metadata: metadata, eventID: eventID, source: source)
        return try await publish(
            to: request.channel, payload: request.payload, metadata: metadata, eventID: eventID, source: source, state: stateWrite)
    }

    /// Publishes a payload generated from a contract on `channel`, which the contract must cover:
    /// how a pattern contract's payload (`trades:*`) is published.
    /// - Parameters:
    ///   - payload: The payload.
    ///   - channel: The channel; the contract's channel, or one its pattern matches.
    ///   - metadata: Trace context, session, user.
    ///   - eventID: The event id; a new UUIDv7 when `nil`.
    ///   - source: The envelope `source`; ``RouterConfiguration/source`` when `nil`.
    ///   - stateWrite: A state key to set with the event.
    /// - Returns: Where the event is.
    /// - Throws: ``SwitchyardError``: `invalid_channel` when the payload's contract does not cover the
    ///   channel, and those of ``publish(to:payload:metadata:eventID:source:state:)``.
    @discardableResult
    public func publish(
        _ payload: some ContractPayload, to channel: ChannelName, metadata: JSONObject = [:], eventID: EventID? = nil, source: String? = nil,
        state stateWrite: StateWrite? = nil
    ) async throws(SwitchyardError) -> PublishReceipt {
        let request = try PublishRequest(payload, to: channel, metadata: metadata, eventID: eventID, source: source)
        return try await publish(
            to: request.channel, payload: request.payload, metadata: metadata, eventID: eventID, source: source, state: stateWrite)
    }
}
