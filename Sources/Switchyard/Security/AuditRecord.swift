import JSONSchema

/// One entry of the audit trail: who did what to which event, and when.
///
/// As a JSON line of the audit file, members in this order, the absent ones left out:
/// `{"at":"2026-01-27T10:30:05.123Z","action":"publish","who":"trade_executor","channel":"trades:order_filled",
/// "event_id":"0193…","sequence_number":42,"reason":"validation_error","details":{…}}`.
public struct AuditRecord: Sendable, Hashable {
    /// What was done.
    public struct Action: Sendable, Hashable, CustomStringConvertible {
        /// The wire name.
        public let rawValue: String
        /// Wraps a wire name.
        public init(_ rawValue: String) { self.rawValue = rawValue }
        /// An event was stored (`details.duplicate` is `true` for a publish of an event id already stored).
        public static let publish = Action("publish")
        /// A publish was refused (by a contract check, a rate limit, a grant), or a consumer or the
        /// gateway refused a stored event (a signature or a sealed field that does not verify);
        /// `reason` is the error code.
        public static let refuse = Action("refuse")
        /// A consumer group gave up on an event and moved it to the dead-letter stream; `reason` is the error code.
        public static let deadLetter = Action("dead_letter")
        /// A dead letter was delivered again to its group.
        public static let requeue = Action("requeue")
        /// A dead letter was removed for good.
        public static let drop = Action("drop")
        /// Every action.
        public static let all: [Action] = [.publish, .refuse, .deadLetter, .requeue, .drop]
        public var description: String { rawValue }
    }

    /// When it was done.
    public var at: Timestamp
    /// What was done.
    public var action: Action
    /// Who did it: the publishing service (the envelope's `source`: a token's subject through the
    /// gateway), or the caller of a requeue or drop.
    public var who: String
    /// The channel, when one is concerned.
    public var channel: String?
    /// The event, when it is known (a refused publish without an event id has none).
    public var eventID: EventID?
    /// The event's sequence number, once it has one.
    public var sequenceNumber: Int64?
    /// For refusals and dead letters, the error code (`invalid_signature`, `rate_limited`, …).
    public var reason: String?
    /// Anything else worth keeping: the consumer group, the error message, `duplicate`.
    public var details: JSONObject

    /// Creates a record.
    public init(
        at: Timestamp, action: Action, who: String, channel: String? = nil, eventID: EventID? = nil, sequenceNumber: Int64? = nil,
        reason: String? = nil, details: JSONObject = [:]
    ) {
        self.at = at
        self.action = action
        self.who = who
        self.channel = channel
        self.eventID = eventID
        self.sequenceNumber = sequenceNumber
        self.reason = reason
        self.details = details
    }

    /// The record as a JSON object, members in wire order, absent ones left out.
    public var jsonValue: JSONValue {
        var object: JSONObject = ["at": .string(at.description), "action": .string(action.rawValue), "who": .string(who)]
        if let channel { object["channel"] = .string(channel) }
        if let eventID { object["event_id"] = .string(eventID.description) }
        if let sequenceNumber { object["sequence_number"] = .int(sequenceNumber) }
        if let reason { object["reason"] = .string(reason) }
        if !details.isEmpty { object["details"] = .object(details) }
        return .object(object)
    }

    /// Reads a record from its JSON object; `nil` when a required member is missing or malformed.
    public init?(json: JSONValue) {
        guard case .object(let object) = json, let at = object["at"]?.stringValue.flatMap({ Timestamp(rfc3339: $0) }),
            let action = object["action"]?.stringValue, let who = object["who"]?.stringValue
        else { return nil }
        var eventID: EventID?
        if let text = object["event_id"]?.stringValue {
            guard let id = EventID(text) else { return nil }
            eventID = id
        }
        var sequenceNumber: Int64?
        if case .int(let number)? = object["sequence_number"] { sequenceNumber = number }
        self.init(
            at: at, action: Action(action), who: who, channel: object["channel"]?.stringValue, eventID: eventID, sequenceNumber: sequenceNumber,
            reason: object["reason"]?.stringValue, details: object["details"]?.objectValue ?? [:])
    }
}

/// Which audit records to return: every filter given must hold.
public struct AuditQuery: Sendable {
    /// Records of channels matching this name or glob.
    public var channel: ChannelPattern?
    /// Records of this `who`, exactly.
    public var who: String?
    /// Records of this event.
    public var eventID: EventID?
    /// Records at or after this time.
    public var since: Timestamp?
    /// Records at or before this time.
    public var until: Timestamp?
    /// Records of these actions; every action when empty.
    public var actions: [AuditRecord.Action]
    /// The most records returned, oldest first. Default 1,000.
    public var limit: Int

    /// Creates a query; without filters it returns the oldest `limit` records.
    public init(
        channel: ChannelPattern? = nil, who: String? = nil, eventID: EventID? = nil, since: Timestamp? = nil, until: Timestamp? = nil,
        actions: [AuditRecord.Action] = [], limit: Int = 1000
    ) {
        self.channel = channel
        self.who = who
        self.eventID = eventID
        self.since = since
        self.until = until
        self.actions = actions
        self.limit = limit
    }

    /// Whether `record` passes every filter (the limit aside).
    public func matches(_ record: AuditRecord) -> Bool {
        if let channel {
            guard let name = record.channel.flatMap({ try? ChannelName($0) }), channel.matches(name) else { return false }
        }
        if let who, record.who != who { return false }
        if let eventID, record.eventID != eventID { return false }
        if let since, record.at < since { return false }
        if let until, record.at > until { return false }
        if !actions.isEmpty, !actions.contains(record.action) { return false }
        return true
    }
}

/// Where an ``AuditTrail`` keeps its records: an append-only JSON-lines file (``AuditFile``) or
/// PostgreSQL's `switchyard.audit` table (`PostgresAuditSink` in SwitchyardPostgres).
public protocol AuditSink: Sendable {
    /// Appends records, in order, durably; throwing means none of them may be assumed written.
    func append(_ records: [AuditRecord]) async throws
    /// The records matching `query`, oldest first, at most `query.limit`.
    func records(matching query: AuditQuery) async throws -> [AuditRecord]
    /// Background work the sink needs (a connection pool); returns when cancelled. The default does nothing.
    func run() async throws
}

extension AuditSink {
    /// Does nothing: a sink without background work (a file).
    public func run() async throws {}
}
