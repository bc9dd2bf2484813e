/// How Switchyard treats a channel: retention, size, rate, delivery and criticality.
///
/// Every key of a contract's `policy` is optional; a key left out takes the default of the
/// channel's family (``defaults(for:)``), the table of DESIGN.md.
public struct ChannelPolicy: Sendable, Hashable {
    /// How events reach subscribers.
    public struct Delivery: Sendable, Hashable, CustomStringConvertible {
        /// The wire name: `durable` or `live`.
        public let rawValue: String
        /// Stored in the channel's stream and delivered to consumer groups, then pushed live.
        public static let durable = Delivery(rawValue: "durable")
        /// Pushed live only; nothing is kept for replay.
        public static let live = Delivery(rawValue: "live")
        /// Every delivery mode.
        public static let all: [Delivery] = [.durable, .live]
        public var description: String { rawValue }
    }

    /// What a channel's live Pub/Sub message carries on the channel's own name.
    public struct LiveMessage: Sendable, Hashable, CustomStringConvertible {
        /// The wire name: `envelope` or `payload`.
        public let rawValue: String
        /// The envelope (the default): what Switchyard's own subscribers read.
        public static let envelope = LiveMessage(rawValue: "envelope")
        /// The bare payload (the envelope's `data`), for subscribers written for plain Redis
        /// Pub/Sub; the envelope goes to the companion channel `switchyard:envelope:CHANNEL`,
        /// where Switchyard's live feed reads it (docs/wire-format.md).
        public static let payload = LiveMessage(rawValue: "payload")
        /// Every live message mode.
        public static let all: [LiveMessage] = [.envelope, .payload]
        public var description: String { rawValue }
    }

    /// When a publish to the channel is acknowledged, where the engine keeps replicas.
    public struct Acknowledge: Sendable, Hashable, CustomStringConvertible {
        /// The wire name: `primary` or `replicated`.
        public let rawValue: String
        /// Once the primary has stored the event. Redis replicates asynchronously, so an event
        /// acknowledged by a primary that fails before a replica has it is lost in the failover.
        public static let primary = Acknowledge(rawValue: "primary")
        /// Once a replica has the event too (Redis `WAIT 1`); a replica that does not confirm in
        /// time fails the publish with `engine_unavailable`, and a retry with the same event id is
        /// stored once. Costs a round trip to a replica on every publish.
        public static let replicated = Acknowledge(rawValue: "replicated")
        /// Every acknowledgement mode.
        public static let all: [Acknowledge] = [.primary, .replicated]
        public var description: String { rawValue }

        /// The mode with this wire name (`primary` or `replicated`), or `nil`.
        public static func named(_ name: String?) -> Acknowledge? {
            all.first { $0.rawValue == name }
        }
    }

    /// A token bucket: a steady rate and the burst it may reach.
    public struct RateLimit: Sendable, Hashable {
        /// Tokens added per second.
        public var perSecond: Int
        /// The bucket's size.
        public var burst: Int
        /// A limit of `perSecond` with bursts up to `burst`.
        public init(perSecond: Int, burst: Int) {
            self.perSecond = perSecond
            self.burst = burst
        }
        /// 1,000 messages per second with bursts of 2,000, per service and channel.
        public static let standard = RateLimit(perSecond: 1000, burst: 2000)
    }

    /// The largest message accepted by default: 1 MB.
    public static let defaultMaxSizeBytes = 1_048_576
    /// Messages larger than this are accepted but counted: 10 KB.
    public static let recommendedSizeBytes = 10_240

    /// How long entries stay in the stream and how long the latest state lives, in seconds.
    public var retentionSeconds: Int
    /// The largest payload accepted, in bytes.
    public var maxSizeBytes: Int
    /// The rate limit per publishing service.
    public var rateLimit: RateLimit
    /// Durable or live delivery.
    public var delivery: Delivery
    /// Whether a slow browser may be sent only the latest event of the channel.
    public var conflatable: Bool
    /// Whether the channel carries critical events (lossless delivery, signing).
    public var critical: Bool
    /// Services allowed to publish; `*` means any.
    public var producers: [String]
    /// Services allowed to consume; `*` means any.
    public var consumers: [String]
    /// What the live Pub/Sub message on the channel's name carries: the envelope, or the bare
    /// payload for unchanged plain-Redis subscribers during a migration (docs/migration.md).
    public var liveMessage: LiveMessage
    /// When a publish is acknowledged; `nil` takes the default: ``Acknowledge/replicated`` for a
    /// critical channel where the engine's deployment has replicas (Redis under Sentinel), else
    /// ``Acknowledge/primary``.
    public var acknowledge: Acknowledge?
    /// The channel's topic on the Kafka engine; `nil` takes the defaults of ``Kafka``.
    public var kafka: Kafka?

    /// Whether `name` may name a service in ``producers`` and ``consumers``: one or more of
    /// `A-Z`, `a-z`, `0-9`, `_`, `.` and `-` (the name becomes a Redis ACL user and a key, so
    /// nothing else may pass), or `*` for any service.
    public static func isValidServiceName(_ name: String) -> Bool {
        name == "*" || (!name.isEmpty && name.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"):
                true
            default: false
            }
        })
    }

    /// Creates a policy.
    public init(
        retentionSeconds: Int, maxSizeBytes: Int = defaultMaxSizeBytes, rateLimit: RateLimit = .standard,
        delivery: Delivery = .durable, conflatable: Bool = false, critical: Bool = false,
        producers: [String] = ["*"], consumers: [String] = ["*"], liveMessage: LiveMessage = .envelope,
        acknowledge: Acknowledge? = nil, kafka: Kafka? = nil
    ) {
        self.kafka = kafka
        self.liveMessage = liveMessage
        self.acknowledge = acknowledge
        self.retentionSeconds = retentionSeconds
        self.maxSizeBytes = maxSizeBytes
        self.rateLimit = rateLimit
        self.delivery = delivery
        self.conflatable = conflatable
        self.critical = critical
        self.producers = producers
        self.consumers = consumers
    }

    /// The defaults of the family a channel or pattern belongs to, by its first segment.
    ///
    /// | family | retention | delivery |
    /// |---|---|---|
    /// | `market_data:*`, `prices:*`, `quotes.*`, `price.*` | 5 minutes | durable, conflatable |
    /// | `trades:*`, `positions:*`, `settings:*`, `orders.*`, `positions.*`, `signals.*` | 1 hour | durable, lossless, critical |
    /// | `system:*`, `system.*` | 24 hours | durable |
    /// | `user:*` | 30 minutes | durable |
    /// | `position:*`, `exposure:*`, `risk:*`, `pnl:*`, `strategy:*` | 1 hour | durable |
    /// | anything else | 24 hours | durable |
    public static func defaults(for channelOrPattern: String) -> ChannelPolicy {
        let family = channelOrPattern.prefix { $0 != ":" && $0 != "." }
        let separator = channelOrPattern.dropFirst(family.count).first
        switch (family, separator) {
        case ("market_data", ":"), ("prices", ":"), ("quotes", "."), ("price", "."):
            return ChannelPolicy(retentionSeconds: 300, conflatable: true)
        case ("trades", ":"), ("positions", ":"), ("settings", ":"), ("orders", "."), ("positions", "."), ("signals", "."):
            return ChannelPolicy(retentionSeconds: 3600, critical: true)
        case ("system", ":"), ("system", "."):
            return ChannelPolicy(retentionSeconds: 86_400)
        case ("user", ":"):
            return ChannelPolicy(retentionSeconds: 1800)
        case ("position", ":"), ("exposure", ":"), ("risk", ":"), ("pnl", ":"), ("strategy", ":"):
            return ChannelPolicy(retentionSeconds: 3600)
        default:
            return ChannelPolicy(retentionSeconds: 86_400)
        }
    }
}

/// Durations as contracts write them: an integer and a unit, `300s`, `5m`, `1h`, `1d`, or a bare
/// number of seconds.
public enum DurationText {
    /// The number of seconds `text` stands for, or `nil` when it is not a duration.
    public static func seconds(_ text: String) -> Int? {
        guard let unit = text.last else { return nil }
        let multiplier: Int
        let digits: Substring
        switch unit {
        case "s": (multiplier, digits) = (1, text.dropLast())
        case "m": (multiplier, digits) = (60, text.dropLast())
        case "h": (multiplier, digits) = (3600, text.dropLast())
        case "d": (multiplier, digits) = (86_400, text.dropLast())
        default: (multiplier, digits) = (1, Substring(text))
        }
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), let value = Int(digits), value > 0 else { return nil }
        let (product, overflow) = value.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : product
    }

    /// The shortest text for a number of seconds: `5m` for 300, `90s` for 90.
    public static func text(seconds: Int) -> String {
        if seconds % 86_400 == 0 { return "\(seconds / 86_400)d" }
        if seconds % 3600 == 0 { return "\(seconds / 3600)h" }
        if seconds % 60 == 0 { return "\(seconds / 60)m" }
        return "\(seconds)s"
    }
}
