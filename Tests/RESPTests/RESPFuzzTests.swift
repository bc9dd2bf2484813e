import Foundation
import NIOCore
import RESP
import Testing

/// A small seeded generator (SplitMix64), so a failing run can be repeated.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum FuzzValues {
    static func value(depth: Int, using rng: inout SplitMix64) -> RESPValue {
        let kinds = depth >= 4 ? 10 : 16
        switch Int.random(in: 0..<kinds, using: &rng) {
        case 0: return .simpleString(self.text(&rng))
        case 1: return .simpleError("ERR " + self.text(&rng))
        case 2: return .integer(Int64.random(in: .min ... .max, using: &rng))
        case 3: return .blobString(ByteBuffer(bytes: (0..<Int.random(in: 0..<24, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }))
        case 4: return .double(Double(Int.random(in: -100_000...100_000, using: &rng)) / 64)
        case 5: return .boolean(Bool.random(using: &rng))
        case 6: return .null
        case 7: return .bigNumber(String(UInt64.random(in: 0 ... .max, using: &rng)) + "123")
        case 8: return .verbatimString(format: "txt", ByteBuffer(string: self.text(&rng)))
        case 9: return .blobError(ByteBuffer(string: "SYNTAX " + self.text(&rng)))
        case 10: return .array(self.values(depth: depth, &rng))
        case 11: return .set(self.values(depth: depth, &rng))
        case 12: return .push(self.values(depth: depth, &rng))
        case 13:
            return .map(self.values(depth: depth, &rng).map { .init(key: $0, value: .integer(1)) })
        case 14:
            return .attribute([.init(key: .simpleString("a"), value: .integer(1))], self.value(depth: depth + 1, using: &rng))
        default: return .array([])
        }
    }

    static func values(depth: Int, _ rng: inout SplitMix64) -> [RESPValue] {
        (0..<Int.random(in: 0..<4, using: &rng)).map { _ in self.value(depth: depth + 1, using: &rng) }
    }

    static func text(_ rng: inout SplitMix64) -> String {
        String((0..<Int.random(in: 0..<12, using: &rng)).map { _ in Character(Unicode.Scalar(UInt8.random(in: 97...122, using: &rng))) })
    }

    static let alphabet: [UInt8] = Array("+-:$*%~>|_#,(=!\r\n0123456789-?tfa".utf8)

    /// Random bytes drawn mostly from RESP's own markers and digits, so they get past the first byte.
    static func randomFrame(_ rng: inout SplitMix64, into buffer: inout ByteBuffer) {
        for _ in 0..<Int.random(in: 1..<48, using: &rng) {
            let byte = Int.random(in: 0..<8, using: &rng) == 0
                ? UInt8.random(in: 0...255, using: &rng) : self.alphabet[Int.random(in: 0..<self.alphabet.count, using: &rng)]
            buffer.writeInteger(byte)
        }
    }

    /// A valid frame with one to three mutations: flipped, inserted, deleted or duplicated bytes, or truncation.
    static func mutate(_ frame: [UInt8], _ rng: inout SplitMix64, into buffer: inout ByteBuffer) {
        var bytes = frame
        for _ in 0..<Int.random(in: 1...3, using: &rng) where !bytes.isEmpty {
            let index = Int.random(in: 0..<bytes.count, using: &rng)
            switch Int.random(in: 0..<5, using: &rng) {
            case 0: bytes[index] = self.alphabet[Int.random(in: 0..<self.alphabet.count, using: &rng)]
            case 1: bytes.insert(UInt8.random(in: 0...255, using: &rng), at: index)
            case 2: bytes.remove(at: index)
            case 3: bytes.insert(contentsOf: bytes[index..<min(bytes.count, index + 4)], at: index)
            default: bytes.removeSubrange(index...)
            }
        }
        buffer.writeBytes(bytes)
    }
}

/// The long-run knobs of the fuzz suites (docs/testing.md): `SWITCHYARD_FUZZ_SCALE` multiplies the
/// number of cases, `SWITCHYARD_FUZZ_SEED` replaces the seed.
enum FuzzRun {
    static var scale: Int { Int(ProcessInfo.processInfo.environment["SWITCHYARD_FUZZ_SCALE"] ?? "") ?? 1 }
    static func seed(_ fallback: UInt64) -> UInt64 { UInt64(ProcessInfo.processInfo.environment["SWITCHYARD_FUZZ_SEED"] ?? "") ?? fallback }
}

@Suite struct RESPFuzzTests {
    /// One million random and mutated frames through the decoder: each decodes, waits for more
    /// bytes, or throws a RESPProtocolError — never anything else, never a crash or a hang.
    /// Whatever decodes encodes again to bytes that decode to the same value.
    @Test func millionFramesNeverCrash() async throws {
        var rng = SplitMix64(state: FuzzRun.seed(0x5EED_2026))
        let corpus: [[UInt8]] = (0..<512).map { _ in Array(FuzzValues.value(depth: 0, using: &rng).encoded.readableBytesView) }
        var decoder = RESPValueDecoder(maximumDepth: 8)
        var buffer = ByteBuffer()
        buffer.reserveCapacity(4096)
        var decoded = 0
        var incomplete = 0
        var rejected = 0
        var roundTrips = 0
        let frames = 1_000_000 * FuzzRun.scale
        for frame in 0..<frames {
            if frame % 4096 == 0 { await Task.yield() }
            buffer.clear()
            switch frame % 4 {
            case 0: FuzzValues.randomFrame(&rng, into: &buffer)
            case 1: buffer.writeBytes(corpus[Int.random(in: 0..<corpus.count, using: &rng)])
            default: FuzzValues.mutate(corpus[Int.random(in: 0..<corpus.count, using: &rng)], &rng, into: &buffer)
            }
            do {
                var progress = true
                while progress, buffer.readableBytes > 0 {
                    let before = buffer.readerIndex
                    if let value = try decoder.decode(buffer: &buffer) {
                        decoded += 1
                        if !value.containsDouble {
                            let again = try decodeAll(Array(value.encoded.readableBytesView), splits: [])
                            #expect(again == [value], "frame \(frame) decoded to a value that does not survive encoding")
                            roundTrips += 1
                        }
                    } else {
                        incomplete += 1
                    }
                    progress = buffer.readerIndex > before
                }
            } catch is RESPProtocolError {
                rejected += 1
            }
        }
        #expect(decoded > 0 && incomplete > 0 && rejected > 0)
        #expect(roundTrips > 0)
        #expect(decoded + rejected >= frames / 2)
    }

    /// Valid frames survive any split into chunks, checked against their source value.
    @Test func randomValuesRoundTripThroughRandomSplits() throws {
        var rng = SplitMix64(state: 42)
        for _ in 0..<3_000 {
            let value = FuzzValues.value(depth: 0, using: &rng)
            let bytes = Array(value.encoded.readableBytesView)
            let cuts = (0..<Int.random(in: 0..<4, using: &rng)).map { _ in Int.random(in: 0...bytes.count, using: &rng) }.sorted()
            let values = try decodeAll(bytes, splits: cuts)
            #expect(values.count == 1)
            if case .double = value {
            } else {
                #expect(values.first == value)
            }
        }
    }
}

extension RESPValue {
    /// Whether a double is anywhere inside: doubles may print in a form that decodes to a neighbour.
    var containsDouble: Bool {
        switch self {
        case .double: true
        case .array(let values), .set(let values), .push(let values): values.contains { $0.containsDouble }
        case .map(let pairs): pairs.contains { $0.key.containsDouble || $0.value.containsDouble }
        case .attribute(let pairs, let value): value.containsDouble || pairs.contains { $0.key.containsDouble || $0.value.containsDouble }
        default: false
        }
    }
}
