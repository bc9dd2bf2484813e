import JSONSchema

/// The name of a state key: the same rules as a channel name (segments of `[A-Za-z0-9_-]` joined
/// by `:` or `.`), so the channel grants and glob patterns apply to keys unchanged.
public typealias StateKey = ChannelName

/// One entry of the state-key table: a key or glob pattern, how long its values live, and the
/// schema they must satisfy.
public struct StateKeyEntry: Sendable {
    /// The key or glob pattern the entry covers (`position:snapshot`, `cache:trades:*`).
    public let key: ChannelPattern
    /// How long a value lives after it is set; `nil` for no expiry.
    public let ttl: Duration?
    /// Where the key comes from (the seed and its line).
    public let origin: String?
    /// What the key holds.
    public let description: String
    /// The draft-07 schema values must satisfy, if one is declared.
    public let schema: JSONValue?
    private let validator: CompiledSchema?

    /// Creates an entry and compiles its schema.
    /// - Throws: ``SwitchyardError`` (`invalid_contract`) when the schema does not compile.
    public init(key: ChannelPattern, ttl: Duration?, origin: String? = nil, description: String = "", schema: JSONValue? = nil) throws(SwitchyardError) {
        self.key = key
        self.ttl = ttl
        self.origin = origin
        self.description = description
        self.schema = schema
        do {
            validator = try schema.map { try CompiledSchema(compiling: $0) }
        } catch {
            throw SwitchyardError(.invalidContract, "the schema of state key '\(key)' does not compile: \(error)")
        }
    }

    /// Checks a value against the schema; any value passes when none is declared.
    /// - Throws: the `validation_error` naming missing and invalid fields.
    public func validate(_ value: JSONValue) throws(SwitchyardError) {
        guard let validator, !validator.isValid(value) else { return }
        throw SwitchyardError.validation(validator.summarize(value))
    }

    /// The TTL as the table writes it: `"1h"`, or `nil` for no expiry.
    public var ttlText: String? {
        ttl.map { DurationText.text(seconds: Int($0.components.seconds)) }
    }
}

extension SwitchyardError.Code {
    /// No entry of the state-key table covers the key (HTTP 404).
    public static let unknownStateKey = SwitchyardError.Code("unknown_state_key")
    /// The key is reserved for Switchyard's own bookkeeping (`switchyard:…`) (HTTP 400).
    public static let invalidStateKey = SwitchyardError.Code("invalid_state_key")
}
