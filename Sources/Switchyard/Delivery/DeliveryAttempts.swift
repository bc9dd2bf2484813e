/// The retry rules for one delivery, free of I/O: whether its handler runs, and after a success or
/// a failure whether the entry is acked, retried after a backoff, dead-lettered, or left pending.
///
/// ``GroupHandler`` feeds it what happened and carries out the actions it returns, for live and
/// backtest consumers alike.
struct DeliveryAttempts {
    enum Action: Equatable {
        /// Run the handler; `attempt` is the delivery's count, this run included.
        case run(attempt: Int)
        /// The handler succeeded: the entry needs its ack.
        case ack
        /// The handler failed: wait `after` (no wait when `nil`), then report ``backoffEnded(interrupted:)``.
        case retry(after: Duration?)
        /// Move the entry to the dead-letter stream, counted as delivered `deliveries` times.
        case deadLetter(Failure, deliveries: Int)
        /// Stop without an ack or a dead letter: the entry stays pending, to be claimed again.
        case leavePending
    }

    /// Why a delivery is dead-lettered.
    enum Failure: Equatable {
        /// Its signature or sealed fields did not verify; its handler never ran.
        case refused
        /// It was delivered `times` times without an ack, and is past ``ConsumerOptions/maxDeliveries``.
        case unacked(times: Int)
        /// Its handler failed on the last delivery allowed.
        case handlerFailed
    }

    let options: ConsumerOptions
    /// Whether a retry waits its backoff; in backtest mode the backoff is virtual.
    let waitsBetweenRetries: Bool
    /// How many times the entry has been delivered, the run under way included.
    private(set) var deliveries: Int

    /// Creates the rules for an entry delivered `deliveries` times (this delivery included).
    init(deliveries: Int, options: ConsumerOptions, waitsBetweenRetries: Bool) {
        self.deliveries = deliveries
        self.options = options
        self.waitsBetweenRetries = waitsBetweenRetries
    }

    /// The event verified: its handler runs, unless it was delivered too often already.
    func start() -> Action {
        guard deliveries <= options.maxDeliveries else { return .deadLetter(.unacked(times: deliveries - 1), deliveries: deliveries) }
        return .run(attempt: deliveries)
    }

    /// The event's signature or sealed fields did not verify: it is dead-lettered at once.
    func refused() -> Action {
        .deadLetter(.refused, deliveries: deliveries)
    }

    /// The handler returned.
    func handlerSucceeded() -> Action {
        .ack
    }

    /// The handler threw; `isCancelled` when the consumer's task was cancelled meanwhile.
    func handlerFailed(isCancelled: Bool) -> Action {
        if isCancelled { return .leavePending }
        if deliveries >= options.maxDeliveries { return .deadLetter(.handlerFailed, deliveries: deliveries) }
        return .retry(after: waitsBetweenRetries ? options.backoff.delay(afterFailure: deliveries) : nil)
    }

    /// The backoff after a failure ended; `interrupted` when the task was cancelled during it.
    mutating func backoffEnded(interrupted: Bool) -> Action {
        if interrupted { return .leavePending }
        deliveries += 1
        return .run(attempt: deliveries)
    }
}
