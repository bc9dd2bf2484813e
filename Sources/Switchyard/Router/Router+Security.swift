import JSONSchema

/// Signed events, sealed fields and the audit trail, as the router applies them (docs/security.md).
extension Router {
    /// The policy in force for a channel as a consumer sees it: the first matching override, else
    /// the covering contract's, else the channel family's defaults.
    public func policy(for channel: ChannelName) -> ChannelPolicy {
        for override in configuration.policyOverrides where override.pattern.matches(channel) {
            return override.policy
        }
        return contracts.contract(for: channel)?.policy ?? ChannelPolicy.defaults(for: channel.rawValue)
    }

    /// Seals the contract's sensitive fields and, on a critical channel, signs: what a request
    /// becomes before it leaves the router. Caller-supplied `signature` and `sealed_fields`
    /// members are never trusted: they are replaced, or removed.
    func secured(_ request: AppendRequest, contract: Contract?, policy: ChannelPolicy) throws(SwitchyardError) -> AppendRequest {
        var request = request
        request.metadata[FieldSealer.metadataKey] = nil
        if let fields = contract?.sensitiveFields, !fields.isEmpty {
            guard let sealer else {
                throw SwitchyardError(
                    .encryptionKeyRequired,
                    "the contract of '\(request.channel)' marks fields as sensitive and this publisher holds no encryption key; nothing was stored",
                    details: ["channel": .string(request.channel.rawValue), "sensitive_fields": .array(fields.map { .string($0.description) })])
            }
            let (sealed, paths) = try sealer.seal(request.data, fields: fields, eventID: request.eventID, channel: request.channel)
            request.data = sealed
            if !paths.isEmpty { request.metadata[FieldSealer.metadataKey] = .array(paths.map { .string($0) }) }
        }
        guard policy.critical, let signer else { return request }
        return signer.signed(request)
    }

    /// Checks a stored event's signature as this router's consumers do: on a critical channel,
    /// with signing keys configured, it must carry a valid signature by one of them; anything
    /// else passes unchecked.
    /// - Throws: ``SwitchyardError``: `unsigned_event`, `invalid_signature` or `unknown_signing_key`.
    public func verify(_ envelope: Envelope) throws(SwitchyardError) {
        guard let signer, policy(for: envelope.channel).critical else { return }
        try signer.verify(envelope)
    }

    /// What a consumer of this router is handed for a stored event: its signature checked
    /// (``verify(_:)``), then its sealed fields opened with the router's encryption keys (fields
    /// sealed with a key it does not hold stay sealed, listed in the metadata's `sealed_fields`).
    /// Consumer groups apply it to every delivery; call it on envelopes read through
    /// ``subscribe(_:from:)``, ``replay(_:since:until:limit:including:)`` or ``latest(_:)``.
    /// - Throws: ``SwitchyardError``: the signature refusals, or `invalid_ciphertext` for a sealed
    ///   field that does not open with the key it names.
    public func verifyAndUnseal(_ envelope: Envelope) throws(SwitchyardError) -> Envelope {
        try verify(envelope)
        return try unseal(envelope)
    }

    /// The envelope with the sealed fields it can open in clear (see ``FieldSealer/unseal(_:)``);
    /// unchanged without encryption keys. The signature is not checked.
    /// - Throws: ``SwitchyardError`` (`invalid_ciphertext`) for a sealed field that does not open.
    public func unseal(_ envelope: Envelope) throws(SwitchyardError) -> Envelope {
        guard let sealer else { return envelope }
        return try sealer.unseal(envelope)
    }

    /// Counts, logs and audits a stored event refused by a consumer or the gateway.
    /// - Parameters:
    ///   - envelope: The event as it was stored.
    ///   - error: Why (`invalid_signature`, …).
    ///   - by: The reader that refused it: a consumer group, or the gateway.
    public func countRefusedEvent(_ envelope: Envelope, error: SwitchyardError, by reader: String) {
        metrics.refusedEvent(envelope.channel, error)
        logger.warning(
            "a stored event was refused",
            metadata: [
                "reader": "\(reader)", "channel": "\(envelope.channel)", "event_id": "\(envelope.eventID)",
                "sequence_number": "\(envelope.sequenceNumber)", "reason": "\(error.code)",
            ])
        configuration.audit?.record(AuditRecord(
            at: now, action: .refuse, who: envelope.source, channel: envelope.channel.rawValue, eventID: envelope.eventID,
            sequenceNumber: envelope.sequenceNumber, reason: error.code.rawValue,
            details: ["refused_by": .string(reader), "message": .string(error.message)]))
    }

    /// Records a refused publish in the audit trail (a gateway that refuses a caller before the
    /// router sees the publish: a missing grant, a payload its own check refused).
    /// - Parameters:
    ///   - error: The refusal.
    ///   - channel: The channel the publish was for, when known.
    ///   - who: The caller: a token's subject or an API key's name.
    ///   - eventID: The event id the caller gave, if any.
    ///   - attempted: What was refused when it was not a publish (`requeue`, `drop`).
    public func auditRefusal(_ error: SwitchyardError, channel: ChannelName?, who: String, eventID: EventID? = nil, attempted: String? = nil) {
        guard let audit = configuration.audit else { return }
        var details: JSONObject = ["message": .string(error.message)]
        if let attempted { details["attempted"] = .string(attempted) }
        audit.record(AuditRecord(
            at: now, action: .refuse, who: who, channel: channel?.rawValue, eventID: eventID, reason: error.code.rawValue, details: details))
    }

    /// Records stored events (and duplicates, marked so) in the audit trail.
    func auditPublished(_ requests: [AppendRequest], _ receipts: [PublishReceipt]) {
        guard let audit = configuration.audit else { return }
        let at = now
        audit.record(zip(requests, receipts).map { request, receipt in
            AuditRecord(
                at: at, action: .publish, who: request.source, channel: receipt.channel.rawValue, eventID: receipt.eventID,
                sequenceNumber: receipt.sequenceNumber,
                details: receipt.duplicate ? ["duplicate": true] : [:])
        })
    }

    /// Records publishes the router refused in the audit trail.
    func auditRefused(_ items: [(channel: ChannelName, eventID: EventID?, source: String?)], _ error: SwitchyardError) {
        guard let audit = configuration.audit else { return }
        let at = now
        audit.record(items.map { item in
            AuditRecord(
                at: at, action: .refuse, who: item.source ?? configuration.source, channel: item.channel.rawValue, eventID: item.eventID,
                reason: error.code.rawValue, details: ["message": .string(error.message)])
        })
    }

    /// The audit records of dead letters about to be requeued or dropped, with their event ids
    /// (read before they go); recorded once the action succeeded.
    func deadLetterAudit(_ action: AuditRecord.Action, _ channel: ChannelName, ids: [StreamPosition], by who: String?) async -> [AuditRecord] {
        guard configuration.audit != nil else { return [] }
        let wanted = Set(ids)
        let letters = (try? await engine.deadLetters(channel, limit: .max).filter { wanted.contains($0.id) }) ?? []
        let at = now
        return letters.map { letter in
            AuditRecord(
                at: at, action: action, who: who ?? configuration.source, channel: channel.rawValue, eventID: letter.envelope.eventID,
                sequenceNumber: letter.envelope.sequenceNumber, details: ["group": .string(letter.group), "dead_letter_id": .string(letter.id.rawValue)])
        }
    }
}

extension SwitchyardMetrics.Name {
    /// Counter `{channel, reason}`: stored events a consumer or the gateway refused (a signature or
    /// a sealed field that does not verify); the reason is the error code.
    public static let refusedEvents = "switchyard_refused_events_total"
}
