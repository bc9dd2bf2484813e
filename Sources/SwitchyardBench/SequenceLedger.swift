/// Sequence numbers per channel: the ones acknowledged to the publishers, or the ones a receiver
/// saw, with the repeats counted.
///
/// Each channel's numbers are kept as sorted, disjoint runs: a receiver that sees a channel in
/// order extends the last run, so recording costs no hashing per event and the ledger of a whole
/// run stays a few runs long. The bench records every acknowledgement and every delivery, and
/// its own bookkeeping counts in the CPU it reports for the process.
public struct SequenceLedger: Sendable {
    /// The runs recorded, per channel.
    private var runs: [String: Runs] = [:]
    /// Records of a sequence number already recorded on its channel.
    public private(set) var duplicates = 0

    /// An empty ledger.
    public init() {}

    /// How many distinct sequence numbers were recorded.
    public var count: Int { runs.values.reduce(0) { $0 + $1.count } }

    /// Records `sequence` on `channel`; returns `false` (and counts a duplicate) when it was there.
    @discardableResult
    public mutating func record(_ sequence: Int64, on channel: String) -> Bool {
        if runs[channel, default: Runs()].insert(sequence) { return true }
        duplicates += 1
        return false
    }

    /// Records every sequence number of `other`, counting the ones already here as duplicates.
    public mutating func record(_ other: SequenceLedger) {
        for (channel, theirs) in other.runs {
            for run in theirs.bounds {
                for sequence in run.first...run.last { record(sequence, on: channel) }
            }
        }
    }

    /// How many of `expected`'s sequence numbers this ledger lacks.
    public func missing(of expected: SequenceLedger) -> Int {
        expected.runs.reduce(0) { total, entry in
            total + entry.value.count - entry.value.overlap(with: runs[entry.key] ?? Runs())
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
        runs.mapValues { $0.bounds.map { [$0.first, $0.last] } }
    }

    /// A ledger holding the runs of ``ranges`` (each `[first, last]`, inclusive), with `duplicates` repeats.
    public init(ranges: [String: [[Int64]]], duplicates: Int = 0) {
        for (channel, list) in ranges {
            var channelRuns = Runs()
            for run in list where run.count == 2 && run[0] <= run[1] {
                for sequence in run[0]...run[1] { channelRuns.insert(sequence) }
            }
            runs[channel] = channelRuns
        }
        self.duplicates = duplicates
    }
}

/// Sorted, disjoint and non-adjacent closed runs of integers.
struct Runs: Sendable, Equatable {
    struct Run: Sendable, Equatable {
        var first: Int64
        var last: Int64
    }

    private(set) var bounds: [Run] = []
    private(set) var count = 0

    /// Adds `value`; `false` when it was there. Appending in order touches the last run only.
    mutating func insert(_ value: Int64) -> Bool {
        if let tail = bounds.last {
            if tail.last < .max, value == tail.last + 1 {
                bounds[bounds.count - 1].last = value
                count += 1
                return true
            }
            if value > tail.last {
                bounds.append(Run(first: value, last: value))
                count += 1
                return true
            }
        } else {
            bounds.append(Run(first: value, last: value))
            count = 1
            return true
        }
        // The first run ending at or after `value`: there is one, the last run ends after it.
        var low = 0
        var high = bounds.count - 1
        while low < high {
            let middle = (low + high) / 2
            if bounds[middle].last < value { low = middle + 1 } else { high = middle }
        }
        let index = low
        if bounds[index].first <= value { return false }
        count += 1
        let joinsNext = bounds[index].first == value + 1
        let joinsPrevious = index > 0 && bounds[index - 1].last == value - 1
        switch (joinsPrevious, joinsNext) {
        case (true, true):
            bounds[index - 1].last = bounds[index].last
            bounds.remove(at: index)
        case (true, false):
            bounds[index - 1].last = value
        case (false, true):
            bounds[index].first = value
        case (false, false):
            bounds.insert(Run(first: value, last: value), at: index)
        }
        return true
    }

    /// How many integers both hold.
    func overlap(with other: Runs) -> Int {
        var (i, j, shared) = (0, 0, 0)
        while i < bounds.count, j < other.bounds.count {
            let (a, b) = (bounds[i], other.bounds[j])
            let low = max(a.first, b.first)
            let high = min(a.last, b.last)
            if low <= high { shared += Int(high - low + 1) }
            if a.last < b.last { i += 1 } else { j += 1 }
        }
        return shared
    }
}
