extension DemoStack {
    /// How the simulated trading stack behaves: its seed, pace, and how often its risk group fails.
    public struct Configuration: Sendable {
        /// The seed of every random choice (prices, orders, fills, failures); `nil` (the default)
        /// picks one at random. The same seed and tick give the same sequence of payloads.
        public var seed: UInt64?
        /// Time between two steps of the simulation; default 250 ms. Every step publishes a BTC
        /// tick and one equity price; orders, fills and the rest follow from there.
        public var tick: Duration
        /// Orders for more contracts than this are refused by the `risk` group, so they end in
        /// the dead-letter stream; default 500.
        public var riskLimit: Int
        /// The share of new orders that are over ``riskLimit``; default 0.08.
        public var largeOrderRate: Double
        /// The chance that one delivery to the `risk` group times out (then it is retried);
        /// default 0.05.
        public var riskTimeoutRate: Double
        /// Deliveries after which the `risk` group gives an event up to the dead letters; default 3.
        public var maxDeliveries: Int
        /// How long the `risk` group takes per event; default 50 ms.
        public var riskProcessingTime: Duration
        /// The share of deliveries to the `risk` group that take ten times ``riskProcessingTime``
        /// (a slow risk model), so its lag in entries and seconds shows; default 0.05.
        public var riskSlowRate: Double
        /// Time between the simulated services' heartbeats on `system:health_check`; default 5 s.
        public var heartbeatInterval: Duration
        /// Time between the simulated exchange watchdog's alerts on `system:error_alert`; default
        /// 60 s (the first comes after 3 s).
        public var alertInterval: Duration

        /// Creates a configuration; every parameter has the default documented on its property.
        public init(
            seed: UInt64? = nil, tick: Duration = .milliseconds(250), riskLimit: Int = 500, largeOrderRate: Double = 0.08,
            riskTimeoutRate: Double = 0.05, maxDeliveries: Int = 3, riskProcessingTime: Duration = .milliseconds(50),
            riskSlowRate: Double = 0.05, heartbeatInterval: Duration = .seconds(5), alertInterval: Duration = .seconds(60)
        ) {
            self.seed = seed
            self.tick = tick
            self.riskLimit = riskLimit
            self.largeOrderRate = largeOrderRate
            self.riskTimeoutRate = riskTimeoutRate
            self.maxDeliveries = maxDeliveries
            self.riskProcessingTime = riskProcessingTime
            self.riskSlowRate = riskSlowRate
            self.heartbeatInterval = heartbeatInterval
            self.alertInterval = alertInterval
        }

        /// ``tick`` in seconds.
        var tickSeconds: Double {
            Double(tick.components.seconds) + Double(tick.components.attoseconds) / 1e18
        }

        /// Steps between two events that happen every `interval`, at least 1.
        func steps(per interval: Duration) -> Int {
            max(1, Int((interval / tick).rounded()))
        }
    }
}
