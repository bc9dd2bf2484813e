import Metrics

/// How a ``Router`` runs: who publishes, in which mode, with which policies, clock and ids.
public struct RouterConfiguration: Sendable {
    /// Live or backtest.
    public struct Mode: Sendable, Hashable, CustomStringConvertible {
        /// The wire name.
        public let rawValue: String
        /// Consumers read in their own tasks; publish returns once the event is stored.
        public static let live = Mode(rawValue: "live")
        /// Publish calls the consumers' handlers in order before it returns: deterministic with
        /// a ``ManualClock`` and seeded event ids, and no thread hops.
        public static let backtest = Mode(rawValue: "backtest")
        /// The wire name.
        public var description: String { rawValue }
    }

    /// Where event ids come from when the caller gives none.
    public enum EventIDSource: Sendable, Hashable {
        /// ``EventID/generate()``: UUIDv7 from the system clock and random bits.
        case system
        /// UUIDv7 from the router's clock and a random generator seeded with this value: the same
        /// inputs give the same ids.
        case seeded(UInt64)
    }

    /// A policy that replaces the contracts' policy for channels matching a pattern.
    public struct PolicyOverride: Sendable {
        /// The channels it applies to.
        public var pattern: ChannelPattern
        /// The policy.
        public var policy: ChannelPolicy
        /// Creates an override.
        public init(_ pattern: ChannelPattern, _ policy: ChannelPolicy) {
            self.pattern = pattern
            self.policy = policy
        }
    }

    /// The publishing service's name: the envelope's `source` and the rate limit's key.
    public var source: String
    /// Live (default) or backtest.
    public var mode: Mode
    /// How long a published event id is remembered for dedup. Default 5 minutes.
    public var dedupWindow: Duration
    /// Whether the policies' rate limits apply. Default `true`.
    public var enforcesRateLimits: Bool
    /// Whether channels no contract covers are accepted (with their family's default policy).
    public var allowsUnknownChannels: Bool
    /// Policies that replace the contracts' ones; the first matching override wins.
    public var policyOverrides: [PolicyOverride]
    /// Where event ids come from. Default ``EventIDSource/system``.
    public var eventIDs: EventIDSource
    /// The time source for timestamps, timeouts and backoff. Default ``SystemClock``.
    public var clock: any SwitchyardClock
    /// Where the router's metrics go; `nil` for the process's (`MetricsSystem.factory`, or the
    /// task's `withMetricsFactory` when the router is created inside one). Default `nil`.
    public var metricsFactory: (any MetricsFactory)?
    /// The HMAC-SHA256 keys of signed events (docs/security.md): with them the router signs every
    /// event it publishes to a critical channel with the newest key, and its consumers refuse, and
    /// dead-letter, events of critical channels that are unsigned, changed, or signed with a key it
    /// does not hold. `nil` (the default) signs and verifies nothing.
    public var signingKeys: KeyRing?
    /// The AES-256-GCM keys of sensitive fields: with them the router seals the fields contracts mark
    /// `sensitive_fields` with the newest key before the event leaves it, and its consumers open
    /// fields sealed with either key. Without them a publish to such a contract is refused
    /// (`encryption_key_required`) and consumers get the fields sealed. Default `nil`.
    public var encryptionKeys: KeyRing?
    /// Where publishes, refusals, dead letters, requeues and drops are recorded; `nil` (the
    /// default) records nothing. Run the trail as a service of its own (``AuditTrail/run()``).
    public var audit: AuditTrail?
    /// The state-key table: which keys ``Router/state`` and publish-and-set accept, their TTLs and
    /// schemas. Default the shipped table (``StateKeyRegistry/shipped()``); keys it does not cover
    /// are accepted only with ``allowsUnknownChannels``.
    public var stateKeys: StateKeyRegistry = .shippedOnce

    /// Creates a configuration.
    public init(
        source: String, mode: Mode = .live, dedupWindow: Duration = .seconds(300), enforcesRateLimits: Bool = true,
        allowsUnknownChannels: Bool = false, policyOverrides: [PolicyOverride] = [], eventIDs: EventIDSource = .system,
        clock: any SwitchyardClock = SystemClock(), metricsFactory: (any MetricsFactory)? = nil,
        signingKeys: KeyRing? = nil, encryptionKeys: KeyRing? = nil, audit: AuditTrail? = nil
    ) {
        self.signingKeys = signingKeys
        self.encryptionKeys = encryptionKeys
        self.audit = audit
        self.metricsFactory = metricsFactory
        self.source = source
        self.mode = mode
        self.dedupWindow = dedupWindow
        self.enforcesRateLimits = enforcesRateLimits
        self.allowsUnknownChannels = allowsUnknownChannels
        self.policyOverrides = policyOverrides
        self.eventIDs = eventIDs
        self.clock = clock
    }
}

/// UUIDv7 ids from a clock and a seeded generator: deterministic for backtests.
struct SeededEventIDs {
    private var random: SplitMix64
    private var lastMilliseconds: Int64 = 0
    private var counter: UInt64 = 0

    init(seed: UInt64) {
        random = SplitMix64(seed: seed)
    }

    mutating func next(now: Int64) -> EventID {
        if now > lastMilliseconds {
            lastMilliseconds = now
            counter = 0
        } else {
            counter += 1
            if counter > 0xFFF {
                lastMilliseconds += 1
                counter = 0
            }
        }
        let high = UInt64(bitPattern: lastMilliseconds) << 16 | 0x7000 | counter
        let low = random.next() & 0x3FFF_FFFF_FFFF_FFFF | 0x8000_0000_0000_0000
        return EventID(high: high, low: low)
    }
}
