import JSONSchema
import Logging
import Switchyard
import Synchronization

/// The handler of the demo's `risk` group: it refuses orders over the risk limit (so they end in
/// the dead-letter stream, with an alert on `system:error_alert`), is now and then slow, and now
/// and then times out, so retries, lag and the odd dead letter show on the console.
///
/// A dead letter that is requeued passes: the demo treats a requeue as an operator's approval.
final class DemoRiskCheck: Sendable {
    let configuration: DemoStack.Configuration
    let router: Switchyard.Router
    let logger: Logger
    private let state: Mutex<State>

    private struct State {
        var random: DemoRandom
        var attempts: [EventID: Int] = [:]
        /// Events given up on, oldest first: delivered again, they were requeued, and pass.
        var deadLettered: [EventID] = []
    }

    /// What one delivery comes to.
    enum Outcome: Equatable {
        case pass
        case timeout(final: Bool)
        case overLimit(quantity: Int64, final: Bool)
    }

    /// The most given-up events remembered; older ones are forgotten.
    static let memory = 10_000

    init(configuration: DemoStack.Configuration, seed: UInt64, router: Switchyard.Router, logger: Logger) {
        self.configuration = configuration
        self.router = router
        self.logger = logger
        state = Mutex(State(random: DemoRandom(seed: seed)))
    }

    /// Checks one event; throws a `handler_error` to refuse it.
    func check(_ envelope: Envelope) async throws {
        let slow = state.withLock { $0.random.chance(configuration.riskSlowRate) }
        try await Task.sleep(for: configuration.riskProcessingTime * (slow ? 10 : 1))
        switch decide(envelope) {
        case .pass:
            return
        case .timeout:
            throw SwitchyardError(.handlerError, "the risk service did not answer within 2 s", details: ["channel": .string(envelope.channel.rawValue)])
        case .overLimit(let quantity, let final):
            let orderID = envelope.data["order_id"]?.stringValue ?? "?"
            if final { await alert(orderID: orderID, quantity: quantity) }
            throw SwitchyardError(
                .handlerError, "order \(orderID) for \(quantity) contracts is over the risk limit of \(configuration.riskLimit)",
                details: ["order_id": .string(orderID), "quantity": .int(quantity), "limit": .int(Int64(configuration.riskLimit))])
        }
    }

    /// The outcome of one delivery of `envelope`, counting its deliveries.
    func decide(_ envelope: Envelope) -> Outcome {
        state.withLock { state in
            if state.deadLettered.contains(envelope.eventID) { return .pass }
            let attempt = state.attempts[envelope.eventID, default: 0] + 1
            let final = attempt >= configuration.maxDeliveries
            let outcome: Outcome
            if envelope.channel == DemoChannels.newOrder, case .int(let quantity)? = envelope.data["quantity"], quantity > Int64(configuration.riskLimit) {
                outcome = .overLimit(quantity: quantity, final: final)
            } else if state.random.chance(configuration.riskTimeoutRate) {
                outcome = .timeout(final: final)
            } else {
                outcome = .pass
            }
            if outcome == .pass {
                state.attempts[envelope.eventID] = nil
            } else if final {
                state.attempts[envelope.eventID] = nil
                state.deadLettered.append(envelope.eventID)
                if state.deadLettered.count > Self.memory { state.deadLettered.removeFirst(state.deadLettered.count - Self.memory) }
            } else {
                state.attempts[envelope.eventID] = attempt
            }
            return outcome
        }
    }

    private func alert(orderID: String, quantity: Int64) async {
        let payload: JSONObject = [
            "service": "risk_engine", "severity": "high", "alert_type": "risk_limit_breach",
            "message": .string("order \(orderID) for \(quantity) contracts is over the risk limit of \(configuration.riskLimit); dead-lettered by the risk group"),
            "timestamp": .string(router.now.description),
            "details": ["order_id": .string(orderID), "quantity": .int(quantity), "limit": .int(Int64(configuration.riskLimit)), "group": "risk"],
        ]
        do { try await router.publish(to: DemoChannels.errorAlert, payload: .object(payload), source: "risk_engine") } catch {
            logger.warning("demo risk alert refused", metadata: ["error": "\(error)"])
        }
    }
}
