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

    /// The sequence numbers as runs, per channel: `[[first, last], …]` in ascending order. A
    /// receiver that saw every event of a channel has one run for it, so the ledger of a process
    /// of its own travels to the bench process in a few bytes.
    public var ranges: [String: [[Int64]]] {
        sequences.mapValues { set in
            var runs: [[Int64]] = []
            for sequence in set.sorted() {
                if let last = runs.last?[1], sequence == last + 1 {
                    runs[runs.count - 1][1] = sequence
                } else {
                    runs.append([sequence, sequence])
                }
            }
            return runs
        }
    }

    /// A ledger holding the runs of ``ranges`` (each `[first, last]`, inclusive), with `duplicates` repeats.
    public init(ranges: [String: [[Int64]]], duplicates: Int = 0) {
        for (channel, runs) in ranges {
            var set = Set<Int64>()
            for run in runs where run.count == 2 && run[0] <= run[1] {
                for sequence in run[0]...run[1] { set.insert(sequence) }
            }
            sequences[channel] = set
        }
        self.duplicates = duplicates
    }
}
