/// A channel's dedup marks: the event ids published within the window, with the first receipt's
/// sequence number and entry id.
///
/// Marks are kept in publish order in a queue, and found through an open-addressing table of
/// queue indices. Expiring marks only moves the queue's head (the table's slots that point before
/// it are stale, reused by later inserts and dropped when the table is rebuilt), so a publish
/// costs one probe sequence and one append, whatever the window holds. A slot keeps 16 more bits of
/// the id's hash beside the index, so a probe reads a mark only when those bits match.
package struct DedupWindow: Sendable {
    package struct Mark: Sendable {
        package var eventID: EventID
        package var sequenceNumber: Int64
        package var id: EntryID
        package var expiresAt: Int64
        /// The id's hash, kept for rebuilding the table.
        var hash: Int = 0

        package init(eventID: EventID, sequenceNumber: Int64, id: EntryID, expiresAt: Int64) {
            self.eventID = eventID
            self.sequenceNumber = sequenceNumber
            self.id = id
            self.expiresAt = expiresAt
        }
    }

    package init() {}

    private static let empty: UInt64 = 0

    /// Marks from absolute index `base` on; those before `head` have expired.
    private var marks: [Mark] = []
    private var base = 0
    private var head = 0
    /// `(absolute mark index + 1) << 16 | low 16 bits of the hash`, or `empty`; a power of two of them.
    private var slots = [UInt64](repeating: DedupWindow.empty, count: 16)
    private var usedSlots = 0

    /// How many marks are live (not yet past the queue's head).
    package var count: Int { base + marks.count - head }

    /// Drops the marks at the front of the queue whose window has passed.
    package mutating func expire(now: Int64) {
        let end = base + marks.count
        while head < end, marks[head - base].expiresAt <= now { head += 1 }
        let dead = head - base
        if dead >= 4096 && dead * 2 >= marks.count {
            marks.removeFirst(dead)
            base = head
        }
    }

    /// The live, unexpired mark of `eventID`, or, when there is none, inserts `mark` and
    /// returns `nil`.
    package mutating func markOrExisting(_ mark: Mark, now: Int64) -> Mark? {
        if (usedSlots + 1) * 2 > slots.count { rebuild() }
        var mark = mark
        mark.hash = Self.hash(mark.eventID)
        let fingerprint = Self.fingerprint(mark.hash)
        let mask = slots.count - 1
        var slot = mark.hash & mask
        var reusable: Int?
        while true {
            let value = slots[slot]
            if value == Self.empty { break }
            let index = Int(value >> 16) - 1
            if index < head {
                if reusable == nil { reusable = slot }
            } else if value & 0xFFFF == fingerprint {
                let existing = marks[index - base]
                if existing.eventID == mark.eventID && existing.expiresAt > now { return existing }
            }
            slot = (slot + 1) & mask
        }
        let target = reusable ?? slot
        if reusable == nil { usedSlots += 1 }
        slots[target] = Self.slotValue(index: base + marks.count, hash: mark.hash)
        marks.append(mark)
        return nil
    }

    /// Rebuilds the table from the live marks, sized for four slots per live mark.
    private mutating func rebuild() {
        let live = count
        var capacity = 16
        while capacity < (live + 1) * 4 { capacity *= 2 }
        slots = [UInt64](repeating: Self.empty, count: capacity)
        usedSlots = 0
        let mask = capacity - 1
        for index in head..<(base + marks.count) {
            let hash = marks[index - base].hash
            var slot = hash & mask
            while slots[slot] != Self.empty { slot = (slot + 1) & mask }
            slots[slot] = Self.slotValue(index: index, hash: hash)
            usedSlots += 1
        }
    }

    private static func slotValue(index: Int, hash: Int) -> UInt64 {
        UInt64(index + 1) << 16 | fingerprint(hash)
    }

    /// The hash's top 16 bits: the slot position uses its low bits.
    private static func fingerprint(_ hash: Int) -> UInt64 {
        UInt64(UInt(bitPattern: hash) >> 48)
    }

    private static func hash(_ eventID: EventID) -> Int {
        var hasher = Hasher()
        hasher.combine(eventID.high)
        hasher.combine(eventID.low)
        return hasher.finalize()
    }
}
