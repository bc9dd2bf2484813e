import JSONSchema

/// Named state keys: the latest value of a component's data (`position:snapshot`,
/// `cache:prices:btc:current`), stored as JSON text with the TTL of the key's entry in the
/// state-key table. Reached as ``Router/state``.
///
/// On Redis a key is a plain string key of that name, so any client reads it with `GET`:
///
/// ```swift
/// try await router.state.set(try StateKey("position:snapshot"), snapshot)   // SET position:snapshot … PX 3600000
/// let current = try await router.state.get(try StateKey("position:snapshot"))?.value
/// ```
public struct StateStore: Sendable {
    /// Keys starting with this are Switchyard's own (`switchyard:channels`) and never state keys.
    public static let reservedPrefix = "switchyard:"
    /// The TTL of a key no entry covers, when unknown keys are allowed: one hour.
    public static let unknownKeyTTL: Duration = .seconds(3600)
    /// The `family` label of keys no entry covers.
    public static let otherFamily = "other"

    /// The state-key table in force.
    public let keys: StateKeyRegistry
    let engine: any Engine
    let payloadGuard: PayloadGuard
    let metrics: StateMetrics

    /// Whether keys no entry covers are accepted (the router's ``RouterConfiguration/allowsUnknownChannels``).
    public var allowsUnknownKeys: Bool { payloadGuard.allowsUnknownChannels }

    init(keys: StateKeyRegistry, engine: any Engine, payloadGuard: PayloadGuard, metrics: StateMetrics) {
        self.keys = keys
        self.engine = engine
        self.payloadGuard = payloadGuard
        self.metrics = metrics
    }

    /// Sets a key to a JSON value, expiring after its entry's TTL.
    /// - Parameters:
    ///   - key: The key; an entry of the table must cover it unless unknown keys are allowed.
    ///   - value: Any JSON value: at most 1 MiB as compact JSON, with no credential field at any
    ///     depth, satisfying the entry's schema when it declares one.
    /// - Returns: The key and the TTL it was set with.
    /// - Throws: ``SwitchyardError``: `unknown_state_key`, `invalid_state_key`, `payload_too_large`,
    ///   `validation_error` (the wire shape), or `engine_unavailable`.
    @discardableResult
    public func set(_ key: StateKey, _ value: JSONValue) async throws(SwitchyardError) -> StateReceipt {
        let (assignment, family) = try check(key, value)
        try await engine.setState(assignment)
        metrics.wrote(family)
        return StateReceipt(key: key, ttl: assignment.ttl)
    }

    /// A key's value and remaining TTL, or `nil` when it is missing or expired (counted as a miss).
    /// - Throws: ``SwitchyardError``: `unknown_state_key`, `invalid_state_key`; `malformed_json` when
    ///   another writer left text that is not JSON; `engine_unavailable`.
    public func get(_ key: StateKey) async throws(SwitchyardError) -> StateValue? {
        let (entry, family) = try resolve(key)
        guard let stored = try await engine.state(key) else {
            metrics.read(family, hit: false)
            return nil
        }
        metrics.read(family, hit: true)
        do {
            return StateValue(key: key, value: try JSONValue(parsing: stored.json), remaining: stored.remaining, entry: entry)
        } catch {
            throw SwitchyardError(.malformedJSON, "the value of state key '\(key)' is not JSON", details: ["key": .string(key.rawValue)])
        }
    }

    /// The entry covering `key` (or `nil` for an allowed unknown key) and its metrics family.
    /// - Throws: `invalid_state_key` for a reserved key; `unknown_state_key` when no entry covers
    ///   it and unknown keys are not allowed.
    public func resolve(_ key: StateKey) throws(SwitchyardError) -> (entry: StateKeyEntry?, family: String) {
        guard !key.rawValue.hasPrefix(Self.reservedPrefix) else {
            throw SwitchyardError(
                .invalidStateKey, "'\(key)' is reserved: keys starting with '\(Self.reservedPrefix)' are Switchyard's own",
                details: ["key": .string(key.rawValue)])
        }
        if let entry = keys.entry(for: key) { return (entry, entry.key.rawValue) }
        guard allowsUnknownKeys else {
            throw SwitchyardError(.unknownStateKey, "no state-key entry covers '\(key)'", details: ["key": .string(key.rawValue)])
        }
        return (nil, Self.otherFamily)
    }

    /// Runs every check a value passes before it is written, and gives what the engine stores.
    /// - Throws: as ``set(_:_:)`` does, before anything is written.
    func check(_ key: StateKey, _ value: JSONValue) throws(SwitchyardError) -> (StateAssignment, family: String) {
        let (entry, family) = try resolve(key)
        let json = value.serialized()
        let limit = ChannelPolicy.defaultMaxSizeBytes
        guard json.utf8.count <= limit else {
            throw SwitchyardError(
                .payloadTooLarge, "the value has \(json.utf8.count) bytes; a state key holds at most \(limit)",
                details: ["size_bytes": .int(Int64(json.utf8.count)), "max_size_bytes": .int(Int64(limit))])
        }
        var credentials: [(field: String, reason: String)] = []
        var path: [String] = []
        payloadGuard.findCredentials(in: value, path: &path, into: &credentials)
        if !credentials.isEmpty { throw SwitchyardError.validation(missing: [], invalid: credentials) }
        try entry?.validate(value)
        let ttl = entry.map(\.ttl) ?? Self.unknownKeyTTL
        return (StateAssignment(key: key, json: json, ttl: ttl), family)
    }

    /// Counts a value written by a publish whose event was stored.
    func wrote(family: String) {
        metrics.wrote(family)
    }
}

/// What ``StateStore/set(_:_:)`` wrote.
public struct StateReceipt: Sendable, Hashable {
    /// The key.
    public let key: StateKey
    /// The TTL it was set with; `nil` for no expiry.
    public let ttl: Duration?
}

/// A state key's value as read.
public struct StateValue: Sendable {
    /// The key.
    public let key: StateKey
    /// The value.
    public let value: JSONValue
    /// How long it still lives; `nil` when it never expires.
    public let remaining: Duration?
    /// The entry that covers the key; `nil` for an unknown key (when those are allowed).
    public let entry: StateKeyEntry?
}
