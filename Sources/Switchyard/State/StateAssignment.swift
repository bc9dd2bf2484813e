import JSONSchema

/// A value for a state key, as the router hands it to an engine: the key, the value's compact
/// JSON text and how long it lives.
public struct StateAssignment: Sendable, Hashable {
    /// The key.
    public var key: StateKey
    /// The value's JSON text, as stored (in Redis: the string value of the key itself).
    public var json: String
    /// How long the value lives; `nil` for no expiry.
    public var ttl: Duration?

    /// Creates an assignment.
    public init(key: StateKey, json: String, ttl: Duration?) {
        self.key = key
        self.json = json
        self.ttl = ttl
    }
}

/// A state key's value as an engine holds it.
public struct StoredState: Sendable, Hashable {
    /// The value's JSON text, as it was written (by Switchyard, or by any Redis client).
    public var json: String
    /// How long the value still lives; `nil` when it never expires.
    public var remaining: Duration?

    /// Creates a stored value.
    public init(json: String, remaining: Duration?) {
        self.json = json
        self.remaining = remaining
    }
}

/// What a publish writes to a state key once its event is stored (``Router/publish(to:payload:metadata:eventID:source:state:)``).
public struct StateWrite: Sendable {
    /// The key; an entry of the state-key table must cover it.
    public var key: StateKey
    /// The value: any JSON, checked as ``StateStore/set(_:_:)`` checks it.
    public var value: JSONValue

    /// Creates a write.
    public init(key: StateKey, value: JSONValue) {
        self.key = key
        self.value = value
    }
}

extension Engine {
    /// Engines without state keys refuse them.
    public func setState(_ assignment: StateAssignment) async throws(SwitchyardError) {
        throw Self.noStateKeys
    }

    /// Engines without state keys refuse them.
    public func state(_ key: StateKey) async throws(SwitchyardError) -> StoredState? {
        throw Self.noStateKeys
    }

    /// Engines without state keys refuse them.
    public func append(_ request: AppendRequest, then assignment: StateAssignment) async throws(SwitchyardError) -> PublishReceipt {
        throw Self.noStateKeys
    }

    private static var noStateKeys: SwitchyardError {
        SwitchyardError(.engineUnavailable, "this engine does not keep state keys")
    }
}
