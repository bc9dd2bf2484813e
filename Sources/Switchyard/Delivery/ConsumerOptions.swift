/// How a consumer of a group reads, retries, reclaims and gives up.
public struct ConsumerOptions: Sendable {
    /// Exponential backoff between retries of a handler that threw.
    public struct Backoff: Sendable, Hashable {
        /// The wait after the first failure.
        public var initial: Duration
        /// What each further wait is multiplied by.
        public var multiplier: Double
        /// The longest wait.
        public var maximum: Duration

        /// Creates a backoff.
        public init(initial: Duration = .milliseconds(100), multiplier: Double = 2, maximum: Duration = .seconds(10)) {
            self.initial = initial
            self.multiplier = multiplier
            self.maximum = maximum
        }

        /// The wait after the `failures`-th failure (1 for the first).
        public func delay(afterFailure failures: Int) -> Duration {
            var delay = initial
            for _ in 1..<max(1, failures) {
                delay = delay * multiplier
                if delay >= maximum { return maximum }
            }
            return min(delay, maximum)
        }
    }

    /// The most entries one read returns. Default 64.
    public var batchSize: Int
    /// How many channels' entries are handled at once; within a channel, a read's entries are handled in order. Default 1.
    public var concurrency: Int
    /// Deliveries (retries and reclaims included) after which an event goes to the dead-letter
    /// stream. Default 5.
    public var maxDeliveries: Int
    /// The waits between retries.
    public var backoff: Backoff
    /// How long an entry stays pending for a consumer before another may claim it. Default 30 s.
    public var visibilityTimeout: Duration
    /// How often pending entries are checked for claiming. Default 1 s.
    public var claimInterval: Duration
    /// How long a read waits for new entries; channels matching the patterns are looked for
    /// again at least this often. Default 1 s.
    public var blockTimeout: Duration
    /// Where the group starts on channels that exist when it is created; channels that appear
    /// later are always read from their beginning. Default ``GroupStart/beginning``.
    public var start: GroupStart

    /// Creates options.
    public init(
        batchSize: Int = 64, concurrency: Int = 1, maxDeliveries: Int = 5, backoff: Backoff = Backoff(),
        visibilityTimeout: Duration = .seconds(30), claimInterval: Duration = .seconds(1), blockTimeout: Duration = .seconds(1),
        start: GroupStart = .beginning
    ) {
        self.batchSize = batchSize
        self.concurrency = concurrency
        self.maxDeliveries = maxDeliveries
        self.backoff = backoff
        self.visibilityTimeout = visibilityTimeout
        self.claimInterval = claimInterval
        self.blockTimeout = blockTimeout
        self.start = start
    }
}

