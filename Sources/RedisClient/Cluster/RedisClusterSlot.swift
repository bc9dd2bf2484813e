/// The hash slot of a key in a Redis Cluster: CRC16 (XMODEM) of the key, or of its hash tag, modulo 16384.
///
/// A hash tag is the part between the first `{` and the next `}` when it is not empty: `stream:{orders}`
/// and `seq:{orders}` share the slot of `orders`, so one script may touch both on a cluster.
public enum RedisClusterSlot {
    /// The number of slots in a cluster.
    public static let count = 16384

    /// The slot of `key`.
    public static func of(_ key: String) -> Int {
        var key = key
        return key.withUTF8 { Self.of(bytes: $0) }
    }

    /// The slot of a key given as bytes.
    public static func of(bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var hashed = bytes
        if let open = bytes.firstIndex(of: UInt8(ascii: "{")) {
            let rest = UnsafeBufferPointer(rebasing: bytes[(open + 1)...])
            if let close = rest.firstIndex(of: UInt8(ascii: "}")), close > 0 {
                hashed = UnsafeBufferPointer(rebasing: rest[..<close])
            }
        }
        return Int(Self.crc16(hashed) & 0x3FFF)
    }

    /// CRC16/XMODEM: polynomial 0x1021, initial value 0, no reflection, as Redis Cluster specifies.
    static func crc16(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc = (crc << 8) ^ Self.table[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ byte)]
        }
        return crc
    }

    private static let table: [UInt16] = (0..<256).map { index in
        var crc = UInt16(index) << 8
        for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        return crc
    }
}
