import JSONSchema

/// A channel's contract: the payload schema and policy bound to a channel name or pattern.
///
/// A class, so that the checked payloads and receipts that name it share one instance.
///
/// Contracts are JSON files (see docs/contracts.md):
/// `{"channel", "version", "description", "origin", "schema", "policy", "sensitive_fields", "examples"}`.
public final class Contract: Sendable {
    /// The channel name or glob pattern the contract covers.
    public let channel: ChannelPattern
    /// The contract's version; envelopes name it in `schema` as `CHANNEL@VERSION`.
    public let version: Int
    /// What the channel carries.
    public let description: String
    /// The system the channel comes from, when known.
    public let origin: String?
    /// The payload schema as written.
    public let schema: JSONValue
    /// The compiled payload schema.
    public let validator: CompiledSchema
    /// The channel's policy, family defaults filled in.
    public let policy: ChannelPolicy
    /// Payload fields sealed with AES-256-GCM before an event leaves the publisher (see
    /// ``FieldSealer``); the payload is checked against the schema in clear, before sealing.
    public let sensitiveFields: [SensitiveField]
    /// Payloads that must satisfy the schema.
    public let validExamples: [JSONValue]
    /// Payloads that must not, each with the reason.
    public let invalidExamples: [(payload: JSONValue, why: String)]
    /// The file the contract was read from, if any.
    public let file: String?

    /// The identifier envelopes carry in `schema`: `trades:order_filled@1`.
    public let id: String

    /// Creates a contract from its parts and compiles its schema.
    /// - Throws: ``SwitchyardError`` (`invalid_contract`) when the schema does not compile.
    public init(
        channel: ChannelPattern, version: Int = 1, description: String = "", origin: String? = nil,
        schema: JSONValue, policy: ChannelPolicy? = nil, sensitiveFields: [SensitiveField] = [], validExamples: [JSONValue] = [],
        invalidExamples: [(payload: JSONValue, why: String)] = [], file: String? = nil
    ) throws(SwitchyardError) {
        self.channel = channel
        self.version = version
        self.id = "\(channel.rawValue)@\(version)"
        self.description = description
        self.origin = origin
        self.schema = schema
        do {
            self.validator = try CompiledSchema(compiling: schema)
        } catch {
            throw SwitchyardError(.invalidContract, "the schema of '\(channel)' does not compile: \(error)")
        }
        self.policy = policy ?? ChannelPolicy.defaults(for: channel.rawValue)
        self.sensitiveFields = sensitiveFields
        self.validExamples = validExamples
        self.invalidExamples = invalidExamples
        self.file = file
    }

    /// Checks a payload against the schema.
    /// - Throws: the `validation_error` naming missing and invalid fields.
    public func validate(_ payload: JSONValue) throws(SwitchyardError) {
        if validator.isValid(payload) { return }
        throw SwitchyardError.validation(validator.summarize(payload))
    }
}
