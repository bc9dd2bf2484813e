import JSONSchema

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
        var deliveries = delivery.deliveries
        let failure: JSONValue
        if deliveries > options.maxDeliveries {
            failure = SwitchyardError(
                .handlerError, "delivered \(deliveries - 1) times without an ack",
                details: ["max_deliveries": .int(Int64(options.maxDeliveries))]).body
        } else {
            while true {
                do {
                    try await handler(delivery.envelope)
                    await ack(delivery, router: router)
                    return
                } catch {
                    if Task.isCancelled { return }
                    if deliveries >= options.maxDeliveries {
                        failure = SwitchyardError.reason(for: error)
                        break
                    }
                }
                router.metrics.retries.increment()
                if router.configuration.mode != .backtest {
                    do { try await router.configuration.clock.sleep(for: options.backoff.delay(afterFailure: deliveries)) } catch { return }
                }
                deliveries += 1
            }
        }
        await deadLetter(delivery, error: failure, deliveries: deliveries, router: router)
    }

    private func ack(_ delivery: Delivery, router: Router) async {
        guard router.configuration.mode != .backtest else { return }
        do {
            _ = try await router.engine.ack(group, on: delivery.channel, positions: [delivery.position])
            router.metrics.acked.increment()
        } catch {
            router.logger.error("ack failed; the entry stays pending", metadata: ["group": "\(group)", "channel": "\(delivery.channel)", "error": "\(error)"])
        }
    }

    private func deadLetter(_ delivery: Delivery, error: JSONValue, deliveries: Int, router: Router) async {
        do {
            try await router.engine.deadLetter(DeadLetterRequest(group: group, delivery: delivery, error: error, deliveries: deliveries))
            router.metrics.deadLettered.increment()
            router.logger.warning(
                "event dead-lettered",
                metadata: ["group": "\(group)", "channel": "\(delivery.channel)", "event_id": "\(delivery.envelope.eventID)", "deliveries": "\(deliveries)"])
        } catch {
            router.logger.error("dead-lettering failed; the entry stays pending", metadata: ["group": "\(group)", "error": "\(error)"])
        }
    }
}
