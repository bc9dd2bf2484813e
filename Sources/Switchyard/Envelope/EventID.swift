import Synchronization

/// A 128-bit event identifier, written as a lowercase UUID string.
///
/// ``generate()`` makes UUIDv7 identifiers (RFC 9562): a 48-bit Unix time in milliseconds, then a
/// 12-bit counter that keeps identifiers made within one millisecond in increasing order, then
/// 62 random bits. Any UUID is accepted as an event identifier.
public struct EventID: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The high 64 bits.
    public let high: UInt64
    /// The low 64 bits.
    public let low: UInt64

    /// Wraps the two halves of a UUID.
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Parses the 36-character UUID form, in either case.
    /// - Returns: `nil` when `string` is not a UUID.
    public init?(_ string: String) {
        var high: UInt64 = 0
        var low: UInt64 = 0
        var nibbles = 0
        var index = 0
        for byte in string.utf8 {
            defer { index += 1 }
            if index == 8 || index == 13 || index == 18 || index == 23 {
                guard byte == UInt8(ascii: "-") else { return nil }
                continue
            }
            guard let value = Self.hexValue(byte) else { return nil }
            if nibbles < 16 { high = high << 4 | UInt64(value) } else { low = low << 4 | UInt64(value) }
            nibbles += 1
        }
        guard index == 36, nibbles == 32 else { return nil }
        self.init(high: high, low: low)
    }

    /// The UUID version (7 for identifiers made by ``generate()``).
    public var version: Int { Int((high >> 12) & 0xF) }

    /// For a UUIDv7, the Unix time in milliseconds it was made at.
    public var unixMilliseconds: Int64 { Int64(bitPattern: high >> 16) }

    /// A new UUIDv7, greater than every identifier this process made before.
    public static func generate() -> EventID {
        generator.withLock { $0.next(now: Timestamp.now().unixMilliseconds) }
    }

    public var description: String {
        var bytes = [UInt8](repeating: UInt8(ascii: "-"), count: 36)
        var out = 0
        for nibble in 0..<32 {
            if out == 8 || out == 13 || out == 18 || out == 23 { out += 1 }
            let word = nibble < 16 ? high : low
            let shift = UInt64(60 - (nibble % 16) * 4)
            bytes[out] = Self.hexDigits[Int((word >> shift) & 0xF)]
            out += 1
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    public static func < (lhs: EventID, rhs: EventID) -> Bool {
        (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static let generator = Mutex(UUIDv7Generator())
}

/// The state behind ``EventID/generate()``: the last millisecond used, its counter, and a fast
/// random source seeded once from the system.
struct UUIDv7Generator: Sendable {
    private var lastMilliseconds: Int64 = 0
    private var counter: UInt64 = 0
    private var random: SplitMix64

    init() {
        var system = SystemRandomNumberGenerator()
        random = SplitMix64(seed: system.next())
    }

    mutating func next(now: Int64) -> EventID {
        if now > lastMilliseconds {
            lastMilliseconds = now
            counter = random.next() & 0x3FF
        } else {
            counter += 1
            if counter > 0xFFF {
                lastMilliseconds += 1
                counter = random.next() & 0x3FF
            }
        }
        let high = UInt64(bitPattern: lastMilliseconds) << 16 | 0x7000 | counter
        let low = random.next() & 0x3FFF_FFFF_FFFF_FFFF | 0x8000_0000_0000_0000
        return EventID(high: high, low: low)
    }
}

/// SplitMix64: a small, fast, seedable generator for the random bits of identifiers and for
/// reproducible simulations (not for secrets); the same seed gives the same sequence.
package struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// Creates a generator whose sequence is fixed by `seed`.
    package init(seed: UInt64) { state = seed }

    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
