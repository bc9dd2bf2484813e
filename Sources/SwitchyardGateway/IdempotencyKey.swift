import Switchyard

/// Maps an `Idempotency-Key` header to the event id a publish is stored under.
///
/// A key that is a UUID is used as the event id as it is. Any other key becomes a UUIDv8: the
/// 128-bit FNV-1a hash of `switchyard-idempotency:` followed by the key's UTF-8 bytes, with the
/// version nibble set to 8 and the RFC 9562 variant bits. The same key always gives the same id,
/// on every gateway process, so a retried request is stored once within the dedup window.
public enum IdempotencyKey {
    /// The event id for a key, or `nil` for an empty key.
    public static func eventID(for key: String) -> EventID? {
        guard !key.isEmpty else { return nil }
        if let id = EventID(key) { return id }
        let offsetBasis: UInt128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d
        let prime: UInt128 = 0x0000_0000_0100_0000_0000_0000_0000_013b
        var hash = offsetBasis
        for byte in "switchyard-idempotency:".utf8 { hash = (hash ^ UInt128(byte)) &* prime }
        for byte in key.utf8 { hash = (hash ^ UInt128(byte)) &* prime }
        let high = (UInt64(truncatingIfNeeded: hash >> 64) & ~0xF000) | 0x8000
        let low = (UInt64(truncatingIfNeeded: hash) & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000
        return EventID(high: high, low: low)
    }
}
