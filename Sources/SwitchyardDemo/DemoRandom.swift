import Switchyard

/// The demo's seedable random numbers (``Switchyard/SplitMix64`` underneath): the same seed gives
/// the same demo.
struct DemoRandom: RandomNumberGenerator, Sendable {
    private var generator: SplitMix64

    /// Creates a generator whose sequence is fixed by `seed`.
    init(seed: UInt64) {
        generator = SplitMix64(seed: seed)
    }

    mutating func next() -> UInt64 {
        generator.next()
    }

    /// A uniform value in `0..<1`.
    mutating func unit() -> Double {
        Double(next() >> 11) / Double(1 << 53)
    }

    /// Whether an event of probability `p` happens.
    mutating func chance(_ p: Double) -> Bool {
        unit() < p
    }

    /// A roughly normal value with mean 0 and standard deviation 1 (the sum of twelve uniforms).
    mutating func gaussian() -> Double {
        var sum = 0.0
        for _ in 0..<12 { sum += unit() }
        return sum - 6
    }

    /// A lowercase hexadecimal UUID (version 4 layout) drawn from this generator.
    mutating func uuid() -> String {
        let high = next()
        let low = next()
        func hex(_ value: UInt64, _ digits: Int) -> String {
            let text = String(value, radix: 16)
            return String(repeating: "0", count: max(0, digits - text.count)) + text
        }
        let a = hex(high >> 32, 8)
        let b = hex((high >> 16) & 0xFFFF, 4)
        let c = hex(0x4000 | (high & 0x0FFF), 4)
        let d = hex(0x8000 | ((low >> 48) & 0x3FFF), 4)
        let e = hex(low & 0xFFFF_FFFF_FFFF, 12)
        return "\(a)-\(b)-\(c)-\(d)-\(e)"
    }
}
