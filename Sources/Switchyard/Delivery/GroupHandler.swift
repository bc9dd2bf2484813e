import JSONSchema
import Tracing

/// A group's handler and the rules it runs by: the one piece of code that handles a delivery,
/// acks it, retries it with backoff, or dead-letters it, for live and backtest consumers alike.
struct GroupHandler: Sendable {
    let group: String
    let patterns: [ChannelPattern]
    let options: ConsumerOptions
    let handler: @Sendable (Envelope) async throws -> Void

    func matches(_ channel: ChannelName) -> Bool {
        patterns.contains { $0.matches(channel) }
    }

    /// Handles one delivery until it is acked or dead-lettered; leaves it pending when the task
    /// is cancelled. In backtest mode retries do not wait: the backoff is virtual.
    func handle(_ delivery: Delivery, router: Router) async {
        await handle(batch: [delivery], router: router)
    }

    /// Entries whose handler succeeded and that still need their ack, per channel in first-seen order.
    typealias PendingAcks = [(channel: ChannelName, positions: [StreamPosition])]

    /// Handles deliveries one after another, then acks the ones whose handler succeeded with one
    /// call per channel, the channels' calls at once: a batch costs one round trip to the engine,
    /// not one per event nor one per channel after another. An entry handled but not yet acked
    /// when the process dies is delivered again (at least once).
    func handle(batch deliveries: [Delivery], router: Router) async {
        await ack(await handleLeavingAcks(batch: deliveries, router: router), router: router)
    }

    /// Handles deliveries one after another, as ``handle(batch:router:)`` does, and returns the acks
    /// it owes instead of sending them: the read loop sends them with its next read.
    func handleLeavingAcks(batch deliveries: [Delivery], router: Router) async -> PendingAcks {
        var succeeded: [ChannelName: Int] = [:]
        var acks: PendingAcks = []
        for delivery in deliveries where !Task.isCancelled {
            guard await run(delivery, router: router) else { continue }
            if let index = succeeded[delivery.channel] {
                acks[index].positions.append(delivery.position)
            } else {
                succeeded[delivery.channel] = acks.count
                acks.append((delivery.channel, [delivery.position]))
            }
        }
        return acks
    }

    /// Sends acks: one call per channel, every channel's at once.
    func ack(_ acks: PendingAcks, router: Router) async {
        guard acks.count > 1 else {
            if let only = acks.first { await ack(only.positions, on: only.channel, router: router) }
            return
        }
        await withTaskGroup(of: Void.self) { calls in
            for (channel, positions) in acks {
                calls.addTask { await self.ack(positions, on: channel, router: router) }
            }
        }
    }

    /// Runs the handler with retries; returns whether it succeeded (and the entry needs its ack).
    /// A delivery past its limit, or whose handler keeps failing, is dead-lettered instead.
    /// An event whose signature or sealed fields do not verify is dead-lettered at once with the
    /// refusal's reason, and the handler never sees it. ``DeliveryAttempts`` decides each step.
    private func run(_ delivery: Delivery, router: Router) async -> Bool {
        var attempts = DeliveryAttempts(
            deliveries: delivery.deliveries, options: options, waitsBetweenRetries: router.configuration.mode != .backtest)
        var envelope = delivery.envelope
        var action: DeliveryAttempts.Action
        var failure: (any Error)?
        do {
            envelope = try router.verifyAndUnseal(delivery.envelope)
            action = attempts.start()
        } catch {
            router.countRefusedEvent(delivery.envelope, error: error, by: "group \(group)")
            failure = error
            action = attempts.refused()
        }
        while true {
            switch action {
            case .run(let attempt):
                let age = router.configuration.clock.now().unixMilliseconds - delivery.envelope.timestamp.unixMilliseconds
                router.metrics.delivered(group: group, age: .milliseconds(age))
                do {
                    try await traced(delivery, envelope, attempt: attempt)
                    action = attempts.handlerSucceeded()
                } catch {
                    failure = error
                    action = attempts.handlerFailed(isCancelled: Task.isCancelled)
                }
            case .retry(let wait):
                router.metrics.retries.increment()
                var interrupted = false
                if let wait {
                    do { try await router.configuration.clock.sleep(for: wait) } catch { interrupted = true }
                }
                action = attempts.backoffEnded(interrupted: interrupted)
            case .ack:
                return true
            case .leavePending:
                return false
            case .deadLetter(let cause, let deliveries):
                let body = deadLetterBody(cause, failure: failure, delivery: delivery, deliveries: deliveries, router: router)
                await deadLetter(delivery, error: body, deliveries: deliveries, router: router)
                return false
            }
        }
    }

    /// The dead letter's `error`: a refusal's own body, else seed 000's `processing_error` around
    /// the reason.
    private func deadLetterBody(
        _ cause: DeliveryAttempts.Failure, failure: (any Error)?, delivery: Delivery, deliveries: Int, router: Router
    ) -> JSONValue {
        let reason: JSONValue
        switch cause {
        case .refused:
            return failure.map(SwitchyardError.reason(for:)) ?? .null
        case .unacked(let times):
            reason = SwitchyardError(
                .handlerError, "delivered \(times) times without an ack",
                details: ["max_deliveries": .int(Int64(options.maxDeliveries))]).body
        case .handlerFailed:
            reason = failure.map(SwitchyardError.reason(for:)) ?? .null
        }
        return DeadLetter.processingError(reason, service: router.configuration.source, envelope: delivery.envelope, deliveries: deliveries)
    }

    /// Runs the handler inside a `switchyard.deliver` span, a child of the span whose context the
    /// envelope's metadata carries (the publish span), so the handler's own spans continue the trace.
    private func traced(_ delivery: Delivery, _ envelope: Envelope, attempt: Int) async throws {
        try await withSpan("switchyard.deliver", context: TraceContext.extract(from: delivery.envelope.metadata, base: nil), ofKind: .consumer) { span in
            if span.isRecording {
                span.attributes["messaging.system"] = "switchyard"
                span.attributes["messaging.operation.type"] = "process"
                span.attributes["messaging.destination.name"] = delivery.channel.rawValue
                span.attributes["messaging.consumer.group.name"] = group
                span.attributes["messaging.message.id"] = delivery.envelope.eventID.description
                span.attributes["switchyard.sequence_number"] = delivery.envelope.sequenceNumber
                span.attributes["switchyard.deliveries"] = attempt
            }
            try await handler(envelope)
        }
    }

    private func ack(_ positions: [StreamPosition], on channel: ChannelName, router: Router) async {
        guard router.configuration.mode != .backtest else { return }
        do {
            _ = try await router.engine.ack(group, on: channel, positions: positions)
            router.metrics.acked.increment(by: Int64(positions.count))
        } catch {
            router.logger.error("ack failed; the entries stay pending", metadata: ["group": "\(group)", "channel": "\(channel)", "error": "\(error)"])
        }
    }

    private func deadLetter(_ delivery: Delivery, error: JSONValue, deliveries: Int, router: Router) async {
        do {
            try await router.engine.deadLetter(DeadLetterRequest(group: group, delivery: delivery, error: error, deliveries: deliveries))
            router.metrics.deadLettered.increment()
            router.configuration.audit?.record(AuditRecord(
                at: router.now, action: .deadLetter, who: router.configuration.source, channel: delivery.channel.rawValue,
                eventID: delivery.envelope.eventID, sequenceNumber: delivery.envelope.sequenceNumber,
                reason: error["error_type"]?.stringValue, details: ["group": .string(group), "deliveries": .int(Int64(deliveries))]))
            router.logger.warning(
                "event dead-lettered",
                metadata: ["group": "\(group)", "channel": "\(delivery.channel)", "event_id": "\(delivery.envelope.eventID)", "deliveries": "\(deliveries)"])
        } catch {
            router.logger.error("dead-lettering failed; the entry stays pending", metadata: ["group": "\(group)", "error": "\(error)"])
        }
    }
}
