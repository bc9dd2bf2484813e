import JSONSchema

/// One event for an engine to store: the envelope without its sequence number, and the rules
/// the engine applies while storing it.
///
/// The engine applies, as one atomic step per event: the rate limit, the dedup check, the next
/// sequence number, the append with retention and the trim guard, the latest state, and the
/// live notification.
public struct AppendRequest: Sendable {
    /// The event's identifier; the dedup key.
    public var eventID: EventID
    /// The channel.
    public var channel: ChannelName
    /// When the router accepted it. Engines keep stream order by arrival, and never let a
    /// channel's timestamps go backwards.
    public var timestamp: Timestamp
    /// The publishing service; with the channel, the rate limit's key.
    public var source: String
    /// The contract id, `CHANNEL_OR_PATTERN@VERSION`.
    public var schema: String
    /// The payload, already checked.
    public var data: JSONValue
    /// Trace context and other metadata.
    public var metadata: JSONObject
    /// How the engine stores it.
    public var rules: AppendRules
    /// The publisher's own time for the event (a whole message's `timestamp`), kept as the
    /// envelope's `event_time`; `nil` when it gave none.
    public var eventTime: String?

    /// Creates a request.
    public init(
        eventID: EventID, channel: ChannelName, timestamp: Timestamp, source: String, schema: String,
        data: JSONValue, metadata: JSONObject = [:], rules: AppendRules, eventTime: String? = nil
    ) {
        self.eventID = eventID
        self.channel = channel
        self.timestamp = timestamp
        self.source = source
        self.schema = schema
        self.data = data
        self.metadata = metadata
        self.rules = rules
        self.eventTime = eventTime
    }

    /// The envelope this request becomes once the engine gives it a sequence number and time.
    public func envelope(sequenceNumber: Int64, timestamp: Timestamp) -> Envelope {
        Envelope(
            eventID: eventID, channel: channel, sequenceNumber: sequenceNumber, timestamp: timestamp,
            source: source, schema: schema, data: data, metadata: metadata, eventTime: eventTime)
    }
}

/// The per-channel rules an engine applies when it appends, taken from the channel's policy.
public struct AppendRules: Sendable, Hashable {
    /// Entries older than this are trimmed (unless a group has not been delivered them), and the
    /// latest state expires after it.
    public var retention: Duration
    /// A second publish of the same event id within this window is stored once.
    public var dedupWindow: Duration
    /// The token bucket per (source, channel); `nil` for no limit.
    public var rateLimit: ChannelPolicy.RateLimit?
    /// Whether the event is stored in the stream (`durable`) or only pushed live.
    public var durable: Bool
    /// What the live message on the channel's own name carries; an engine without an external
    /// Pub/Sub (the embedded one) ignores it. Default ``ChannelPolicy/LiveMessage/envelope``.
    public var liveMessage: ChannelPolicy.LiveMessage
    /// In payload mode, that the payload was already published on the channel by someone else
    /// (a plain publisher the bridge stores for): only the envelope's companion message is sent,
    /// so unchanged subscribers do not see the payload twice. Ignored in envelope mode.
    public var payloadAlreadyLive: Bool
    /// When the engine acknowledges the event; an engine that keeps no replicas (the embedded
    /// one) ignores it. Default ``Acknowledgement/primary``.
    public var acknowledgement: Acknowledgement

    /// When a stored event is acknowledged: the channel's `acknowledge` policy, or its default.
    public enum Acknowledgement: Sendable, Hashable {
        /// Once the primary has it.
        case primary
        /// Once a replica has it too; refused when none confirms in time.
        case replicated
        /// Once a replica has it where the engine's deployment keeps replicas, else once the
        /// primary has it: the default for critical channels.
        case replicatedWhereReplicas
    }

    /// Creates rules.
    public init(
        retention: Duration, dedupWindow: Duration, rateLimit: ChannelPolicy.RateLimit?, durable: Bool = true,
        liveMessage: ChannelPolicy.LiveMessage = .envelope, payloadAlreadyLive: Bool = false, acknowledgement: Acknowledgement = .primary
    ) {
        self.acknowledgement = acknowledgement
        self.retention = retention
        self.dedupWindow = dedupWindow
        self.rateLimit = rateLimit
        self.durable = durable
        self.liveMessage = liveMessage
        self.payloadAlreadyLive = payloadAlreadyLive
    }
}
