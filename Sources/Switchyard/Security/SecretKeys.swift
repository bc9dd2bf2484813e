import Crypto
import Foundation

/// A named secret: an HMAC-SHA256 key that signs events, or an AES-256-GCM key that seals
/// sensitive fields.
///
/// Its ``description`` names the key and its size, never its bytes, so a key can be logged, put
/// in an error or interpolated by mistake without leaking.
public struct SecretKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The key id carried in signatures and sealed fields: 1 to 64 bytes of `A-Z a-z 0-9 . _ -`.
    public let id: String
    /// The number of secret bytes.
    public let byteCount: Int
    let key: SymmetricKey

    /// A key from its id and secret bytes.
    /// - Throws: ``SwitchyardError`` (`invalid_key`) when the id is not a key id or the secret is empty.
    public init(id: String, secret: some Collection<UInt8>) throws(SwitchyardError) {
        guard Self.isValidID(id) else {
            throw SwitchyardError(.invalidKey, "a key id is 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-'")
        }
        guard !secret.isEmpty else { throw SwitchyardError(.invalidKey, "key '\(id)' has an empty secret") }
        self.id = id
        self.byteCount = secret.count
        self.key = SymmetricKey(data: Array(secret))
    }

    /// A new random key of `byteCount` bytes (32 by default: the size both purposes use).
    public static func generate(id: String, byteCount: Int = 32) throws(SwitchyardError) -> SecretKey {
        let bytes = SymmetricKey(size: SymmetricKeySize(bitCount: byteCount * 8)).withUnsafeBytes { Array($0) }
        return try SecretKey(id: id, secret: bytes)
    }

    /// Whether `id` may name a key.
    public static func isValidID(_ id: String) -> Bool {
        (1...64).contains(id.utf8.count) && id.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                true
            default: false
            }
        }
    }

    /// `key 'ID' (N bytes)`: never the secret.
    public var description: String { "key '\(id)' (\(byteCount) bytes)" }
    public var debugDescription: String { description }
}

/// The keys in force for one purpose: one or two, newest first.
///
/// Rotation keeps two keys active at a time: the newest (``current``) signs or seals, and either
/// verifies or opens. To rotate, put the new key first and keep the old one second until nothing
/// signed or sealed with it is still read, then drop it.
///
/// Keys are read from text, one per line (or separated by commas), as `ID:SECRET` where `SECRET` is
/// standard base64; blank lines and lines starting with `#` are skipped:
///
/// ```
/// # newest first
/// 2026-02:8J0hV2c8QnXr9m0yL3x1o6b0Tq6b2pZ0fQe8m9Xw4Gk=
/// 2026-01:Gm1t3Yx0c0uXb8cQ1Q2f6xJ3n9a1H4pL7tK5sR2vW0E=
/// ```
/// Errors name the line and what is wrong with it, never the secret.
public struct KeyRing: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// What the keys are for, which fixes the secret's size.
    public struct Purpose: Sendable, Hashable, CustomStringConvertible {
        /// The name used in messages: `signing` or `encryption`.
        public let name: String
        /// The smallest secret accepted, in bytes.
        public let minimumBytes: Int
        /// The largest secret accepted, in bytes.
        public let maximumBytes: Int
        /// HMAC-SHA256 keys for signed events: at least 32 bytes (the hash's size).
        public static let signing = Purpose(name: "signing", minimumBytes: 32, maximumBytes: 1024)
        /// AES-256-GCM keys for sealed fields: exactly 32 bytes.
        public static let encryption = Purpose(name: "encryption", minimumBytes: 32, maximumBytes: 32)
        public var description: String { name }
    }

    /// The most keys active at a time.
    public static let maximumKeys = 2

    /// The keys, newest first.
    public let keys: [SecretKey]
    /// What they are for.
    public let purpose: Purpose

    /// The key that signs or seals: the newest.
    public var current: SecretKey { keys[0] }

    /// The key with this id, if it is in the ring.
    public func key(id: String) -> SecretKey? {
        keys.first { $0.id == id }
    }

    /// The ids, newest first.
    public var ids: [String] { keys.map(\.id) }

    /// A ring of one or two keys, newest first.
    /// - Throws: ``SwitchyardError`` (`invalid_key`) for no key, more than two, a repeated id, or a
    ///   secret of the wrong size for the purpose.
    public init(_ keys: [SecretKey], purpose: Purpose) throws(SwitchyardError) {
        guard !keys.isEmpty else { throw SwitchyardError(.invalidKey, "no \(purpose) key is given") }
        guard keys.count <= Self.maximumKeys else {
            throw SwitchyardError(
                .invalidKey,
                "\(keys.count) \(purpose) keys are given; at most \(Self.maximumKeys) are active at a time (the newest first, then the one it replaces)")
        }
        var seen: Set<String> = []
        for key in keys {
            guard seen.insert(key.id).inserted else { throw SwitchyardError(.invalidKey, "the \(purpose) key id '\(key.id)' is given twice") }
            guard (purpose.minimumBytes...purpose.maximumBytes).contains(key.byteCount) else {
                let size = purpose.minimumBytes == purpose.maximumBytes ? "exactly \(purpose.minimumBytes)" : "at least \(purpose.minimumBytes)"
                throw SwitchyardError(.invalidKey, "\(purpose) \(key) must have \(size) bytes")
            }
        }
        self.keys = keys
        self.purpose = purpose
    }

    /// Reads `ID:BASE64` keys from text (a file's content or an environment variable).
    /// - Parameters:
    ///   - text: The keys, one per line or separated by commas, newest first.
    ///   - purpose: What they are for.
    ///   - origin: Where the text came from, for messages (a path or a variable name).
    /// - Throws: ``SwitchyardError`` (`invalid_key`) naming the origin and line; never the secret.
    public init(parsing text: String, purpose: Purpose, origin: String) throws(SwitchyardError) {
        var keys: [SecretKey] = []
        for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "," }).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let place = "\(origin), entry \(index + 1)"
            guard let colon = line.firstIndex(of: ":") else {
                throw SwitchyardError(.invalidKey, "\(place): a key is written ID:SECRET (the secret in base64)")
            }
            let id = String(line[..<colon])
            guard let secret = Data(base64Encoded: String(line[line.index(after: colon)...])) else {
                throw SwitchyardError(.invalidKey, "\(place): the secret of key '\(SecretKey.isValidID(id) ? id : "?")' is not base64")
            }
            do { keys.append(try SecretKey(id: id, secret: Array(secret))) } catch {
                throw SwitchyardError(.invalidKey, "\(place): \(error.message)")
            }
        }
        do { try self.init(keys, purpose: purpose) } catch {
            throw SwitchyardError(.invalidKey, "\(origin): \(error.message)")
        }
    }

    /// Reads keys from a file (see ``init(parsing:purpose:origin:)``).
    /// - Throws: ``SwitchyardError`` (`invalid_key`) when the file cannot be read or holds a bad key.
    public init(file path: String, purpose: Purpose) throws(SwitchyardError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SwitchyardError(.invalidKey, "cannot read the \(purpose) key file \(path)")
        }
        try self.init(parsing: String(decoding: data, as: UTF8.self), purpose: purpose, origin: path)
    }

    /// `signing keys 2026-02 (current), 2026-01`: ids only.
    public var description: String {
        "\(purpose) keys " + keys.enumerated().map { $0.offset == 0 ? "\($0.element.id) (current)" : $0.element.id }.joined(separator: ", ")
    }
    public var debugDescription: String { description }
}

extension SwitchyardError.Code {
    /// A signing or encryption key cannot be used: a bad id, a secret of the wrong size, too many keys.
    public static let invalidKey = SwitchyardError.Code("invalid_key")
}
