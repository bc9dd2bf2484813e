import Crypto
import Foundation
import JSONSchema

/// A payload field a contract marks as sensitive: a path of object member names, written with
/// dots (`account_id`, `beneficiary.iban`). Paths do not go into arrays.
public struct SensitiveField: Sendable, Hashable, CustomStringConvertible {
    /// The member names, outermost first.
    public let components: [String]

    /// A path from its dotted form.
    /// - Throws: ``SwitchyardError`` (`invalid_contract`) for an empty path or an empty segment.
    public init(_ path: String) throws(SwitchyardError) {
        let components = path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard !path.isEmpty, components.allSatisfy({ !$0.isEmpty }) else {
            throw SwitchyardError(.invalidContract, "'\(path)' is not a field path: member names joined by '.'")
        }
        self.components = components
    }

    /// The dotted form.
    public var description: String { components.joined(separator: ".") }

    /// The value at this path in `value`, if every member on the way exists.
    func value(in value: JSONValue) -> JSONValue? {
        var current = value
        for name in components {
            guard case .object(let object) = current, let next = object[name] else { return nil }
            current = next
        }
        return current
    }

    /// `value` with the member at this path replaced (it must exist).
    func replacing(in value: JSONValue, with replacement: JSONValue) -> JSONValue {
        Self.replace(value, components[...], replacement)
    }

    private static func replace(_ value: JSONValue, _ path: ArraySlice<String>, _ replacement: JSONValue) -> JSONValue {
        guard let name = path.first else { return replacement }
        guard case .object(var object) = value, let member = object[name] else { return value }
        object[name] = replace(member, path.dropFirst(), replacement)
        return .object(object)
    }
}

/// Seals sensitive payload fields with AES-256-GCM before an event leaves the publisher, and
/// opens them for consumers that hold the key (docs/security.md).
///
/// A sealed field's value becomes `{"sealed":"AES-256-GCM","key_id":"…","ciphertext":"<base64>"}`,
/// the ciphertext being the 12-byte nonce, the encrypted compact JSON of the clear value, and the
/// 16-byte tag. The additional authenticated data is `switchyard-seal-v1`, a newline, the
/// event id, a newline, the channel, a newline and the field's path, so a sealed value cannot be
/// moved to another event or field. The envelope's metadata lists the fields still sealed under
/// `sealed_fields`: that is the marker a consumer without the key sees.
public struct FieldSealer: Sendable {
    /// The metadata member listing the fields still sealed.
    public static let metadataKey = "sealed_fields"
    /// The `sealed` member of every sealed value.
    public static let algorithm = "AES-256-GCM"
    /// The first line of the additional authenticated data.
    public static let domain = "switchyard-seal-v1\n"

    /// The keys: the newest seals, either opens.
    public let keys: KeyRing

    /// A sealer over a ring of encryption keys.
    public init(keys: KeyRing) {
        self.keys = keys
    }

    static func authenticatedData(eventID: EventID, channel: ChannelName, field: String) -> [UInt8] {
        Array("\(domain)\(eventID)\n\(channel.rawValue)\n\(field)".utf8)
    }

    /// Seals the fields of `payload` that are present; returns the sealed payload and the paths sealed.
    /// - Throws: ``SwitchyardError`` (`internal_error`) when the encryption itself fails.
    public func seal(_ payload: JSONValue, fields: [SensitiveField], eventID: EventID, channel: ChannelName) throws(SwitchyardError) -> (JSONValue, [String]) {
        var sealed = payload
        var paths: [String] = []
        let key = keys.current
        for field in fields {
            guard let clear = field.value(in: sealed) else { continue }
            let path = field.description
            let box: AES.GCM.SealedBox
            do {
                box = try AES.GCM.seal(
                    Array(clear.serialized().utf8), using: key.key,
                    authenticating: Self.authenticatedData(eventID: eventID, channel: channel, field: path))
            } catch {
                throw SwitchyardError(.sealingFailed, "sealing field '\(path)' failed: \(type(of: error))")
            }
            guard let combined = box.combined else { throw SwitchyardError(.sealingFailed, "sealing field '\(path)' gave no ciphertext") }
            sealed = field.replacing(in: sealed, with: .object([
                "sealed": .string(Self.algorithm), "key_id": .string(key.id), "ciphertext": .string(combined.base64EncodedString()),
            ]))
            paths.append(path)
        }
        return (sealed, paths)
    }

    /// The envelope with every field it can open in clear, and `sealed_fields` listing only the
    /// ones still sealed (removed when none is): a field sealed with a key id not in the ring stays sealed.
    /// - Throws: ``SwitchyardError`` (`invalid_ciphertext`) when a field sealed with a key of the ring
    ///   does not open: it was changed, or moved from another event or field.
    public func unseal(_ envelope: Envelope) throws(SwitchyardError) -> Envelope {
        guard let listed = envelope.metadata[Self.metadataKey]?.arrayValue else { return envelope }
        var envelope = envelope
        var still: [JSONValue] = []
        for entry in listed {
            guard let path = entry.stringValue, let field = try? SensitiveField(path),
                case .object(let sealed)? = field.value(in: envelope.data), sealed["sealed"] == .string(Self.algorithm),
                case .string(let keyID)? = sealed["key_id"], case .string(let text)? = sealed["ciphertext"]
            else { continue }
            guard let key = keys.key(id: keyID) else {
                still.append(entry)
                continue
            }
            let clear: JSONValue
            do {
                guard let combined = Data(base64Encoded: text) else { throw SwitchyardError(.invalidCiphertext, "") }
                let box = try AES.GCM.SealedBox(combined: combined)
                let bytes = try AES.GCM.open(
                    box, using: key.key, authenticating: Self.authenticatedData(eventID: envelope.eventID, channel: envelope.channel, field: path))
                clear = try JSONValue(parsing: bytes)
            } catch {
                throw SwitchyardError(
                    .invalidCiphertext, "sealed field '\(path)' does not open with key '\(keyID)': it was changed, or moved from another event",
                    details: [
                        "channel": .string(envelope.channel.rawValue), "event_id": .string(envelope.eventID.description),
                        "field": .string(path), "key_id": .string(keyID),
                    ])
            }
            envelope.data = field.replacing(in: envelope.data, with: clear)
        }
        envelope.metadata[Self.metadataKey] = still.isEmpty ? nil : .array(still)
        return envelope
    }

    /// The paths `sealed_fields` lists in an envelope: the fields a reader without the key sees sealed.
    public static func sealedFields(of envelope: Envelope) -> [String] {
        envelope.metadata[metadataKey]?.arrayValue?.compactMap(\.stringValue) ?? []
    }
}

extension SwitchyardError.Code {
    /// A contract marks payload fields as sensitive and the publisher holds no encryption key:
    /// nothing is stored, so the fields never reach Redis in clear.
    public static let encryptionKeyRequired = SwitchyardError.Code("encryption_key_required")
    /// Sealing a sensitive field failed (nothing is stored).
    public static let sealingFailed = SwitchyardError.Code("sealing_failed")
    /// A sealed field does not open with the key its `key_id` names (refused; dead-lettered by consumers).
    public static let invalidCiphertext = SwitchyardError.Code("invalid_ciphertext")
}
