import Crypto
import Foundation
import JSONSchema

/// Signs events of critical channels with HMAC-SHA256 and verifies them (docs/security.md).
///
/// The signature lives in the envelope's metadata, as
/// `"signature":{"alg":"HMAC-SHA256","key_id":"2026-02","value":"<base64 of the 32-byte MAC>"}`,
/// over the bytes of ``signedBytes(eventID:channel:source:schema:data:metadata:keyID:)``: the
/// line `switchyard-signature-v1`, a newline, then the ``CanonicalJSON`` text of
/// `{"channel","data","event_id","key_id","metadata","schema","source"}` (with `"event_time"` too
/// when the publisher gave one), the metadata without its `signature` member. The sequence number
/// and timestamp are not signed: the store assigns them after the publisher has signed.
public struct EventSigner: Sendable {
    /// The metadata member that holds the signature.
    public static let metadataKey = "signature"
    /// The `alg` of every signature.
    public static let algorithm = "HMAC-SHA256"
    /// The first line of the signed bytes.
    public static let domain = "switchyard-signature-v1\n"

    /// The keys: the newest signs, either verifies.
    public let keys: KeyRing

    /// A signer over a ring of signing keys.
    public init(keys: KeyRing) {
        self.keys = keys
    }

    /// The bytes a signature is computed over.
    public static func signedBytes(
        eventID: EventID, channel: ChannelName, source: String, schema: String, data: JSONValue, metadata: JSONObject, keyID: String,
        eventTime: String? = nil
    ) -> [UInt8] {
        var unsigned = metadata
        unsigned[metadataKey] = nil
        var document: JSONObject = [
            "channel": .string(channel.rawValue), "data": data, "event_id": .string(eventID.description), "key_id": .string(keyID),
            "metadata": .object(unsigned), "schema": .string(schema), "source": .string(source),
        ]
        if let eventTime { document["event_time"] = .string(eventTime) }
        var bytes = Array(domain.utf8)
        CanonicalJSON.write(.object(document), into: &bytes)
        return bytes
    }

    /// The `signature` member for an event, made with the current key.
    public func signature(
        eventID: EventID, channel: ChannelName, source: String, schema: String, data: JSONValue, metadata: JSONObject,
        eventTime: String? = nil
    ) -> JSONValue {
        let key = keys.current
        let bytes = Self.signedBytes(
            eventID: eventID, channel: channel, source: source, schema: schema, data: data, metadata: metadata, keyID: key.id,
            eventTime: eventTime)
        let mac = HMAC<SHA256>.authenticationCode(for: bytes, using: key.key)
        return .object([
            "alg": .string(Self.algorithm), "key_id": .string(key.id), "value": .string(Data(mac).base64EncodedString()),
        ])
    }

    /// `metadata` with the `signature` member for an event.
    public func signed(_ request: AppendRequest) -> AppendRequest {
        var request = request
        request.metadata[Self.metadataKey] = signature(
            eventID: request.eventID, channel: request.channel, source: request.source, schema: request.schema, data: request.data,
            metadata: request.metadata, eventTime: request.eventTime)
        return request
    }

    /// Checks the envelope's signature against the keys.
    /// - Throws: ``SwitchyardError``: `unsigned_event` without a signature, `unknown_signing_key` for
    ///   a key id not in the ring, `invalid_signature` for a signature that is malformed or does
    ///   not match (the event was changed after it was signed, or signed with another secret).
    public func verify(_ envelope: Envelope) throws(SwitchyardError) {
        var details: JSONObject = [
            "channel": .string(envelope.channel.rawValue), "event_id": .string(envelope.eventID.description),
            "sequence_number": .int(envelope.sequenceNumber),
        ]
        guard let signature = envelope.metadata[Self.metadataKey] else {
            throw SwitchyardError(
                .unsignedEvent, "the event on critical channel '\(envelope.channel)' carries no signature", details: details)
        }
        guard case .object(let fields) = signature, fields["alg"] == .string(Self.algorithm),
            case .string(let keyID)? = fields["key_id"], case .string(let value)? = fields["value"],
            let mac = Data(base64Encoded: value), mac.count == SHA256.byteCount
        else {
            throw SwitchyardError(
                .invalidSignature, "the signature of the event is malformed: {\"alg\":\"\(Self.algorithm)\",\"key_id\":…,\"value\":<base64>} is expected",
                details: details)
        }
        details["key_id"] = .string(keyID)
        guard let key = keys.key(id: keyID) else {
            details["known_key_ids"] = .array(keys.ids.map { .string($0) })
            throw SwitchyardError(.unknownSigningKey, "the event is signed with key '\(keyID)', which this consumer does not hold", details: details)
        }
        let bytes = Self.signedBytes(
            eventID: envelope.eventID, channel: envelope.channel, source: envelope.source, schema: envelope.schema, data: envelope.data,
            metadata: envelope.metadata, keyID: keyID, eventTime: envelope.eventTime)
        guard HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: bytes, using: key.key) else {
            throw SwitchyardError(
                .invalidSignature, "the signature does not match the event: it was changed after it was signed, or signed with another secret",
                details: details)
        }
    }
}

extension SwitchyardError.Code {
    /// An event of a critical channel carries no signature (refused; dead-lettered by consumers).
    public static let unsignedEvent = SwitchyardError.Code("unsigned_event")
    /// An event's signature is malformed or does not match its content (refused; dead-lettered by consumers).
    public static let invalidSignature = SwitchyardError.Code("invalid_signature")
    /// An event is signed with a key id the consumer does not hold (refused; dead-lettered by consumers).
    public static let unknownSigningKey = SwitchyardError.Code("unknown_signing_key")

    /// Whether the code is one of the signature refusals.
    public var isSignatureRefusal: Bool {
        self == .unsignedEvent || self == .invalidSignature || self == .unknownSigningKey
    }
}
