import JSONSchema

/// One event of a batch publish.
public struct PublishRequest: Sendable {
    /// The channel.
    public var channel: ChannelName
    /// The payload, a JSON object satisfying the channel's contract.
    public var payload: JSONValue
    /// Trace context, session, user.
    public var metadata: JSONObject
    /// The event id; a new UUIDv7 when `nil`. Publishing the same id again within the dedup
    /// window stores it once.
    public var eventID: EventID?
    /// The envelope `source`; the router's ``RouterConfiguration/source`` when `nil`. A gateway
    /// sets it to the authenticated caller.
    public var source: String?
    /// That the payload was already published on the channel's Pub/Sub name by its plain publisher
    /// (set by the bridge): on a channel whose contract sets `"live_message": "payload"` the store
    /// then publishes only the envelope, on the companion channel. Default `false`.
    public var payloadAlreadyLive: Bool

    /// Creates a request.
    public init(
        channel: ChannelName, payload: JSONValue, metadata: JSONObject = [:], eventID: EventID? = nil, source: String? = nil,
        payloadAlreadyLive: Bool = false
    ) {
        self.channel = channel
        self.payload = payload
        self.metadata = metadata
        self.eventID = eventID
        self.source = source
        self.payloadAlreadyLive = payloadAlreadyLive
    }
}

/// Where a replay starts or ends.
public enum ReplayBound: Sendable, Hashable {
    /// The oldest event retained (as a start; as an end it means no bound).
    case beginning
    /// A sequence number, inclusive.
    case sequence(Int64)
    /// A time, inclusive.
    case time(Timestamp)
}
