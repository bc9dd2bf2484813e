/// The alert rules' settings: how often they run, where alerts go, and each rule's threshold,
/// window and severity. Every default is the one documented in docs/operations.md.
public struct AlertConfiguration: Sendable {
    /// The rules' names: the alerts' `alert_type`.
    public enum RuleName {
        /// The share of refused publishes on a channel over a window.
        public static let errorRate = "error_rate"
        /// The 95th percentile of publish latency on a channel over a window.
        public static let processingLatency = "processing_latency"
        /// A consumer group's pending entries or lag in entries.
        public static let queueDepth = "queue_depth"
        /// A service whose heartbeats stopped.
        public static let serviceUnresponsive = "service_unresponsive"
        /// Events waiting in the local spool.
        public static let spoolInUse = "spool_in_use"
        /// Undelivered entries trimmed at a stream's hard cap.
        public static let retentionHardCap = "retention_hard_cap"
        /// Every rule, in the order they are evaluated.
        public static let all = [errorRate, processingLatency, queueDepth, serviceUnresponsive, spoolInUse, retentionHardCap]
    }

    /// One rule's settings. Which fields a rule reads is in its property's documentation.
    public struct Rule: Sendable, Hashable {
        /// Whether the rule runs; default `true`.
        public var enabled: Bool
        /// The value the rule's figure must exceed to fire.
        public var threshold: Double
        /// The time the rule's figure is computed over (rules over counts and latencies).
        public var window: Duration
        /// The fewest publishes in the window for the rule to judge (rules over publishes).
        public var minimumSamples: Int
        /// The alerts' severity.
        public var severity: AlertSeverity

        /// Creates a rule's settings.
        public init(enabled: Bool = true, threshold: Double, window: Duration = .seconds(60), minimumSamples: Int = 1, severity: AlertSeverity) {
            self.enabled = enabled
            self.threshold = threshold
            self.window = window
            self.minimumSamples = minimumSamples
            self.severity = severity
        }
    }

    /// Time between evaluations; default 5 s.
    public var interval: Duration
    /// Where alerts are published; default `system:error_alert` (REC.IO's contract).
    public var channel: ChannelName
    /// The alerts' `service`; default `switchyard-gateway`.
    public var service: String
    /// How long a resolved alert stays listed by ``AlertMonitor/alerts()``; default 1 hour.
    public var keepResolved: Duration
    /// `error_rate`: refused ÷ (stored + refused) per channel label over `window` above
    /// `threshold`, with at least `minimumSamples` publishes. Default 0.05 (5 %), 60 s, 20, `high`.
    public var errorRate: Rule
    /// `processing_latency`: the 95th percentile of publish latency (call to receipt) per channel
    /// label over `window` above `threshold` seconds, with at least `minimumSamples` publishes.
    /// Default 0.1 s, 60 s, 10, `medium`.
    public var processingLatency: Rule
    /// `queue_depth`: a consumer group's pending entries or lag in entries above `threshold`.
    /// Default 1,000, `high`.
    public var queueDepth: Rule
    /// `service_unresponsive`: a service whose last heartbeat on the health channel is older than
    /// `threshold` seconds. Default 30 s, `high`.
    public var serviceUnresponsive: Rule
    /// `spool_in_use`: more than `threshold` events waiting in the local spool. Default 0, `high`.
    public var spoolInUse: Rule
    /// `retention_hard_cap`: more than `threshold` undelivered entries of a channel trimmed at the
    /// hard cap within `window`. Default 0, 5 minutes, `critical`.
    public var retentionHardCap: Rule

    /// The alert channel of REC.IO's contract.
    public static let defaultChannel = try! ChannelName("system:error_alert")

    /// Creates a configuration; every parameter has the default documented on its property.
    public init(
        interval: Duration = .seconds(5), channel: ChannelName = defaultChannel, service: String = "switchyard-gateway",
        keepResolved: Duration = .seconds(3600),
        errorRate: Rule = Rule(threshold: 0.05, window: .seconds(60), minimumSamples: 20, severity: .high),
        processingLatency: Rule = Rule(threshold: 0.1, window: .seconds(60), minimumSamples: 10, severity: .medium),
        queueDepth: Rule = Rule(threshold: 1000, severity: .high),
        serviceUnresponsive: Rule = Rule(threshold: 30, severity: .high),
        spoolInUse: Rule = Rule(threshold: 0, severity: .high),
        retentionHardCap: Rule = Rule(threshold: 0, window: .seconds(300), severity: .critical)
    ) {
        self.interval = interval
        self.channel = channel
        self.service = service
        self.keepResolved = keepResolved
        self.errorRate = errorRate
        self.processingLatency = processingLatency
        self.queueDepth = queueDepth
        self.serviceUnresponsive = serviceUnresponsive
        self.spoolInUse = spoolInUse
        self.retentionHardCap = retentionHardCap
    }

    /// The settings of the rule named `name` (one of ``RuleName/all``).
    public subscript(rule name: String) -> Rule? {
        get {
            switch name {
            case RuleName.errorRate: errorRate
            case RuleName.processingLatency: processingLatency
            case RuleName.queueDepth: queueDepth
            case RuleName.serviceUnresponsive: serviceUnresponsive
            case RuleName.spoolInUse: spoolInUse
            case RuleName.retentionHardCap: retentionHardCap
            default: nil
            }
        }
        set {
            guard let newValue else { return }
            switch name {
            case RuleName.errorRate: errorRate = newValue
            case RuleName.processingLatency: processingLatency = newValue
            case RuleName.queueDepth: queueDepth = newValue
            case RuleName.serviceUnresponsive: serviceUnresponsive = newValue
            case RuleName.spoolInUse: spoolInUse = newValue
            case RuleName.retentionHardCap: retentionHardCap = newValue
            default: break
            }
        }
    }
}
