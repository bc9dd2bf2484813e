import JSONSchema
import Metrics

/// The checks every engine runs before it accepts a payload, in this order: a contract covers the
/// channel, the payload fits the policy's size, it is JSON, it is an object, it carries no
/// credential field at any depth, and it satisfies the contract's schema.
///
/// Each refusal is a ``SwitchyardError`` with the wire shape; nothing is ever half-accepted.
public struct PayloadGuard: Sendable {
    /// Field names refused anywhere in a payload, compared without ASCII case, `_` or `-`; a key also
    /// matches when it ends with one of the names of six bytes or more (`db_password`).
    public static let defaultCredentialFields: [String] = [
        "api_key", "apikey", "api_secret", "secret", "secret_key", "client_secret", "password", "passwd",
        "token", "access_token", "refresh_token", "private_key", "authorization",
    ]

    /// The contracts in force.
    public let registry: ContractRegistry
    /// Whether a channel without a contract is accepted (with its family's default policy and no schema).
    public var allowsUnknownChannels: Bool
    private let credentialNames: CredentialNames
    private let largeMessages = Counter(label: SwitchyardMetrics.Name.largeMessages)

    /// Creates a guard.
    /// - Parameters:
    ///   - registry: The contracts in force.
    ///   - credentialFields: Field names to refuse; compared without case, `_` or `-`.
    ///   - allowsUnknownChannels: Accept channels that no contract covers.
    public init(registry: ContractRegistry, credentialFields: [String] = defaultCredentialFields, allowsUnknownChannels: Bool = false) {
        self.registry = registry
        self.allowsUnknownChannels = allowsUnknownChannels
        self.credentialNames = CredentialNames(Set(credentialFields.map(Self.normalize)))
    }

    /// The credential field names refused, as configured.
    public var credentialFields: Set<String> { credentialNames.names }

    /// Checks a payload given as JSON text.
    /// - Throws: ``SwitchyardError``: `unknown_channel`, `payload_too_large`, `malformed_json` or `validation_error`.
    public func check(channel: ChannelName, payload: some Collection<UInt8>) throws(SwitchyardError) -> CheckedPayload {
        let (contract, policy) = try resolve(channel)
        try checkSize(payload.count, policy: policy, channel: channel)
        let value: JSONValue
        do {
            value = try JSONValue(parsing: payload)
        } catch {
            throw SwitchyardError(.malformedJSON, "the payload is not valid JSON: \(error)")
        }
        return try checkValue(value, size: payload.count, channel: channel, contract: contract, policy: policy)
    }

    /// Checks a payload already parsed; its size is that of its compact JSON text.
    /// - Throws: ``SwitchyardError``: `unknown_channel`, `payload_too_large` or `validation_error`.
    public func check(channel: ChannelName, payload: JSONValue) throws(SwitchyardError) -> CheckedPayload {
        let (contract, policy) = try resolve(channel)
        if case .object(let object) = payload, !TopicMessage.isTopicMessage(object) {
            let size = try checkPlain(payload, channel: channel, contract: contract, policy: policy)
            return CheckedPayload(payload: payload, contract: contract, policy: policy, sizeBytes: size)
        }
        let size = payload.serializedByteCount
        try checkSize(size, policy: policy, channel: channel)
        return try checkValue(payload, size: size, channel: channel, contract: contract, policy: policy)
    }

    /// The checks of ``check(channel:payload:)-(_,JSONValue)`` for a JSON object that is not a whole
    /// REC.IO message, on a channel already resolved: size, credential fields (both from one walk)
    /// and the contract's schema.
    /// - Returns: The payload's size in compact JSON.
    @discardableResult
    func checkPlain(_ payload: JSONValue, channel: ChannelName, contract: Contract?, policy: ChannelPolicy) throws(SwitchyardError) -> Int {
        let (size, credentials) = measure(payload)
        try checkSize(size, policy: policy, channel: channel)
        if credentials { throw refusal(forCredentialsIn: payload) }
        try contract?.validate(payload)
        countIfLarge(size)
        return size
    }

    /// One walk over `value`: its size in compact JSON, and whether a member name anywhere in it
    /// is a credential field.
    func measure(_ value: JSONValue) -> (size: Int, credentials: Bool) {
        switch value {
        case .object(let object):
            var size = max(1, object.count) + 1
            var credentials = false
            for member in object.members {
                let (memberSize, inMember) = measure(member.value)
                size += JSONValue.serializedByteCount(of: member.key) + 1 + memberSize
                credentials = credentials || inMember || credentialNames.matches(member.key)
            }
            return (size, credentials)
        case .array(let elements):
            var size = max(1, elements.count) + 1
            var credentials = false
            for element in elements {
                let (elementSize, inElement) = measure(element)
                size += elementSize
                credentials = credentials || inElement
            }
            return (size, credentials)
        default:
            return (value.serializedByteCount, false)
        }
    }

    func resolve(_ channel: ChannelName) throws(SwitchyardError) -> (Contract?, ChannelPolicy) {
        if let contract = registry.contract(for: channel) { return (contract, contract.policy) }
        guard allowsUnknownChannels else {
            throw SwitchyardError(.unknownChannel, "no contract covers channel '\(channel)'", details: ["channel": .string(channel.rawValue)])
        }
        return (nil, ChannelPolicy.defaults(for: channel.rawValue))
    }

    private func checkSize(_ size: Int, policy: ChannelPolicy, channel: ChannelName) throws(SwitchyardError) {
        guard size <= policy.maxSizeBytes else {
            throw SwitchyardError(
                .payloadTooLarge, "the payload has \(size) bytes; channel '\(channel)' accepts at most \(policy.maxSizeBytes)",
                details: ["size_bytes": .int(Int64(size)), "max_size_bytes": .int(Int64(policy.maxSizeBytes))])
        }
    }

    private func countIfLarge(_ size: Int) {
        if size > ChannelPolicy.recommendedSizeBytes { largeMessages.increment() }
    }

    private func checkValue(
        _ value: JSONValue, size: Int, channel: ChannelName, contract: Contract?, policy: ChannelPolicy
    ) throws(SwitchyardError) -> CheckedPayload {
        if case .object(let object) = value, TopicMessage.isTopicMessage(object) {
            let message = try TopicMessage(object, channel: channel)
            let checked = try checkValue(message.data, size: message.data.serializedByteCount, channel: channel, contract: contract, policy: policy)
            return CheckedPayload(
                payload: checked.payload, contract: contract, policy: policy, sizeBytes: checked.sizeBytes,
                message: message)
        }
        guard case .object = value else {
            throw SwitchyardError.validation(missing: [], invalid: [("$", "the payload must be a JSON object")])
        }
        if containsCredentials(value) { throw refusal(forCredentialsIn: value) }
        try contract?.validate(value)
        countIfLarge(size)
        return CheckedPayload(payload: value, contract: contract, policy: policy, sizeBytes: size)
    }

    /// Whether a member name anywhere in `value` is a credential field (the quick pass; the
    /// paths are built only for a refusal).
    func containsCredentials(_ value: JSONValue) -> Bool {
        switch value {
        case .object(let object):
            for (key, member) in object where credentialNames.matches(key) || containsCredentials(member) { return true }
            return false
        case .array(let elements):
            return elements.contains { containsCredentials($0) }
        default:
            return false
        }
    }

    /// The `validation_error` naming every credential field in `value`, by its path.
    private func refusal(forCredentialsIn value: JSONValue) -> SwitchyardError {
        var found: [(field: String, reason: String)] = []
        var path: [String] = []
        findCredentials(in: value, path: &path, into: &found)
        return SwitchyardError.validation(missing: [], invalid: found)
    }

    func findCredentials(in value: JSONValue, path: inout [String], into found: inout [(field: String, reason: String)]) {
        switch value {
        case .object(let object):
            for (key, member) in object {
                path.append(key)
                if credentialNames.matches(key) {
                    found.append((path.joined(separator: "."), "credentials are not allowed in messages"))
                } else {
                    findCredentials(in: member, path: &path, into: &found)
                }
                path.removeLast()
            }
        case .array(let elements):
            for (index, element) in elements.enumerated() {
                path.append(String(index))
                findCredentials(in: element, path: &path, into: &found)
                path.removeLast()
            }
        default:
            break
        }
    }

    /// The largest envelope `metadata` (trace context, session, user), as compact JSON.
    public static let maxMetadataBytes = 8192

    /// Checks an envelope's `metadata` before it is stored: at most ``maxMetadataBytes``, no
    /// credential field at any depth, and with the payload within the channel's `max_size_bytes`.
    /// The W3C trace context members (`traceparent`, `tracestate`) are left out of the sizes.
    /// - Parameters:
    ///   - metadata: The metadata.
    ///   - channel: The channel, named in the refusal.
    ///   - checked: The channel's payload as ``check(channel:payload:)-(_,JSONValue)`` passed it: its
    ///     size and its policy's `max_size_bytes`.
    /// - Throws: ``SwitchyardError``: `payload_too_large` (details `metadata_size_bytes` and the
    ///   limit) or `validation_error` naming `metadata.FIELD` for a credential.
    public func checkMetadata(_ metadata: JSONObject, channel: ChannelName, with checked: CheckedPayload) throws(SwitchyardError) {
        guard !metadata.isEmpty else { return }
        let value = JSONValue.object(metadata)
        // The trace context a router or relay adds on the way (bounded by the W3C formats) does
        // not count: a check made before it was added must hold after.
        var counted = metadata
        counted[TraceContext.traceparentKey] = nil
        counted[TraceContext.tracestateKey] = nil
        let size = counted.isEmpty ? 0 : JSONValue.object(counted).serializedByteCount
        guard size <= Self.maxMetadataBytes else {
            throw SwitchyardError(
                .payloadTooLarge, "the metadata has \(size) bytes; metadata may have at most \(Self.maxMetadataBytes)",
                details: ["metadata_size_bytes": .int(Int64(size)), "max_metadata_bytes": .int(Int64(Self.maxMetadataBytes))])
        }
        let payloadSize = checked.sizeBytes
        let policy = checked.policy
        guard payloadSize + size <= policy.maxSizeBytes else {
            throw SwitchyardError(
                .payloadTooLarge,
                "the payload and metadata have \(payloadSize + size) bytes together; channel '\(channel)' accepts at most \(policy.maxSizeBytes)",
                details: [
                    "size_bytes": .int(Int64(payloadSize)), "metadata_size_bytes": .int(Int64(size)),
                    "max_size_bytes": .int(Int64(policy.maxSizeBytes)),
                ])
        }
        var credentials: [(field: String, reason: String)] = []
        var path = ["metadata"]
        findCredentials(in: value, path: &path, into: &credentials)
        if !credentials.isEmpty { throw SwitchyardError.validation(missing: [], invalid: credentials) }
    }

    static func normalize(_ name: String) -> String {
        String(String.UnicodeScalarView(name.lowercased().unicodeScalars.filter { $0 != "_" && $0 != "-" }))
    }
}

/// A payload that passed every publish-time check.
public struct CheckedPayload: Sendable {
    /// The payload.
    public let payload: JSONValue
    /// The contract that covers the channel; `nil` when unknown channels are allowed and none does.
    public let contract: Contract?
    /// The policy in force for the channel.
    public let policy: ChannelPolicy
    /// The payload's size in bytes.
    public let sizeBytes: Int
    /// The whole message, when the payload came in REC.IO's `{"topic","timestamp","data","metadata"}`
    /// shape; `payload` is then its `data`.
    public let message: TopicMessage?

    init(payload: JSONValue, contract: Contract?, policy: ChannelPolicy, sizeBytes: Int, message: TopicMessage? = nil) {
        self.payload = payload
        self.contract = contract
        self.policy = policy
        self.sizeBytes = sizeBytes
        self.message = message
    }

    /// What to hand on to a router or outbox that checks it again: the whole message when the
    /// payload came as one (so its `timestamp` and `metadata` are kept), else the payload.
    public var publishable: JSONValue { message?.jsonValue ?? payload }

    /// The publisher's own time, from a whole message's `timestamp`; the envelope's `event_time`.
    public var eventTime: String? { message?.timestamp }

    /// `metadata` with the whole message's `metadata` members under it: what the caller passed
    /// beside the payload wins over what the message carried.
    public func metadata(merging metadata: JSONObject) -> JSONObject {
        guard var merged = message?.metadata, !merged.isEmpty else { return metadata }
        for (key, value) in metadata { merged[key] = value }
        return merged
    }

    /// The `schema` member for the envelope: the contract's id, or an empty string without a contract.
    public var schemaID: String { contract?.id ?? "" }

    /// Whether the payload is above the recommended 10 KB (accepted, and counted).
    public var exceedsRecommendedSize: Bool { sizeBytes > ChannelPolicy.recommendedSizeBytes }
}

extension PayloadGuard {
    /// Checks a document that is either a payload or a whole envelope for `channel`.
    ///
    /// An object with both `event_id` and `data` members is read as an envelope: it must be a valid
    /// envelope for `channel`, and its `data` is checked as the payload (the size limit applies to
    /// `data`; the envelope around it may add up to 64 KiB).
    /// - Throws: ``SwitchyardError``, as ``check(channel:payload:)-(_,JSONValue)`` does, or `validation_error` ("Invalid envelope") for a broken envelope.
    public func check(channel: ChannelName, document bytes: [UInt8]) throws(SwitchyardError) -> CheckedPayload {
        let (_, policy) = try resolve(channel)
        let envelopeAllowance = 65_536
        try checkSize(max(0, bytes.count - envelopeAllowance), policy: policy, channel: channel)
        let value: JSONValue
        do { value = try JSONValue(parsing: bytes) } catch {
            throw SwitchyardError(.malformedJSON, "the input is not valid JSON: \(error)")
        }
        guard case .object(let object) = value, object["event_id"] != nil, object["data"] != nil else {
            return try check(channel: channel, payload: value)
        }
        let envelope = try Envelope(json: value)
        guard envelope.channel == channel else {
            throw SwitchyardError.validation(missing: [], invalid: [("channel", "must be \(channel)")], message: "Invalid envelope")
        }
        return try check(channel: channel, payload: envelope.data)
    }
}

/// Credential field names, normalized and bucketed by last byte, so that checking a key neither
/// allocates nor compares against names that cannot match.
///
/// A key matches a name when, without ASCII case, `_` or `-`, it equals the name or, for names of
/// six bytes or more, ends with it: `db_password` and `exchange_api_key` match, while `token`
/// matches only itself, so that `base_token` (a DeFi asset) stays allowed.
struct CredentialNames: Sendable {
    static let shortestSuffixName = 6
    /// The names, normalized.
    let names: Set<String>
    private var buckets: [[[UInt8]]] = Array(repeating: [], count: 128)

    init(_ normalizedNames: Set<String>) {
        names = normalizedNames
        for name in normalizedNames {
            let bytes = Array(name.utf8)
            guard let last = bytes.last, last < 128 else { continue }
            buckets[Int(last)].append(bytes)
        }
    }

    /// Whether `key` is, or ends with, one of the names.
    func matches(_ key: String) -> Bool {
        var key = key
        return key.withUTF8 { bytes in
            var end = bytes.count
            while end > 0, Self.isSeparator(bytes[end - 1]) { end -= 1 }
            guard end > 0, bytes[end - 1] < 128 else { return false }
            for name in buckets[Int(Self.lower(bytes[end - 1]))] where Self.matches(bytes, end: end, name: name) {
                return true
            }
            return false
        }
    }

    private static func isSeparator(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
    }

    private static func lower(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
    }

    private static func matches(_ key: UnsafeBufferPointer<UInt8>, end: Int, name: [UInt8]) -> Bool {
        var remaining = name.count
        var position = end
        while position > 0 && remaining > 0 {
            position -= 1
            let byte = key[position]
            if isSeparator(byte) { continue }
            guard lower(byte) == name[remaining - 1] else { return false }
            remaining -= 1
        }
        guard remaining == 0 else { return false }
        if name.count >= shortestSuffixName { return true }
        return key[..<position].allSatisfy(isSeparator)
    }
}
