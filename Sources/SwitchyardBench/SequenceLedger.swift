/// Sequence numbers per channel: the ones acknowledged to the publishers, or the ones a receiver
/// saw, with the repeats counted.
public struct SequenceLedger: Sendable {
    /// The distinct sequence numbers recorded, per channel.
    public private(set) var sequences: [String: Set<Int64>] = [:]
    /// Records of a sequence number already recorded on its channel.
    public private(set) var duplicates = 0

    /// An empty ledger.
    public init() {}

    /// How many distinct sequence numbers were recorded.
    public var count: Int { sequences.values.reduce(0) { $0 + $1.count } }

    /// Records `sequence` on `channel`; returns `false` (and counts a duplicate) when it was there.
    @discardableResult
    public mutating func record(_ sequence: Int64, on channel: String) -> Bool {
        if sequences[channel, default: []].insert(sequence).inserted { return true }
        duplicates += 1
        return false
    }

    /// How many of `expected`'s sequence numbers this ledger lacks.
    public func missing(of expected: SequenceLedger) -> Int {
        expected.sequences.reduce(0) { total, entry in
            let seen = sequences[entry.key] ?? []
            return total + entry.value.reduce(0) { $0 + (seen.contains($1) ? 0 : 1) }
        }
    }

    /// How many of this ledger's sequence numbers `expected` lacks: received, never acknowledged.
    public func unexpected(in expected: SequenceLedger) -> Int {
        expected.missing(of: self)
    }
}
