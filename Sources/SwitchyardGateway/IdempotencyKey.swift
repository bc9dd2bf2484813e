import Crypto
import Switchyard

/// Maps an `Idempotency-Key` header to the event id a publish is stored under.
///
/// The key is scoped to the caller: the event id is a UUIDv8 made of the first 128 bits of
/// SHA-256 over `switchyard-idempotency:`, the caller's subject (the principal's token `sub` or
/// API key name, `anonymous` without credentials), a NUL byte and the key's UTF-8 bytes, with the
/// version nibble set to 8 and the RFC 9562 variant bits. The same caller and key always give the
/// same id, on every gateway process, so a retried request is stored once within the dedup
/// window; another caller using the same key gets another id, so it cannot claim the key first and
/// have the rightful publish dropped as a duplicate. A client that wants to choose the event id
/// itself passes it as the `event_id` query parameter. Version 8 is reserved for these derived ids:
/// an `event_id` a caller chooses must be of another version (``isCallerChoosable(_:)``), or a
/// publisher could compute another caller's id and take it first.
public enum IdempotencyKey {
    /// Whether a caller may choose `id` as an event id: any UUID version but 8, the version of
    /// the ids derived from `Idempotency-Key`.
    public static func isCallerChoosable(_ id: EventID) -> Bool {
        id.version != 8
    }

    /// Why a caller-chosen event id is refused.
    static let reservedVersionReason = "must not be a version 8 UUID: version 8 is reserved for ids derived from Idempotency-Key; use a UUIDv4 or v7"

    /// The event id for `caller`'s key, or `nil` for an empty key.
    /// - Parameters:
    ///   - key: The `Idempotency-Key` header's value.
    ///   - caller: The subject of the principal that sent it.
    public static func eventID(for key: String, caller: String) -> EventID? {
        guard !key.isEmpty else { return nil }
        var hasher = SHA256()
        hasher.update(data: Array("switchyard-idempotency:".utf8))
        hasher.update(data: Array(caller.utf8))
        hasher.update(data: [0])
        hasher.update(data: Array(key.utf8))
        let digest = Array(hasher.finalize())
        func word(_ offset: Int) -> UInt64 { digest[offset..<offset + 8].reduce(0) { $0 << 8 | UInt64($1) } }
        let high = (word(0) & ~0xF000) | 0x8000
        let low = (word(8) & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000
        return EventID(high: high, low: low)
    }
}
