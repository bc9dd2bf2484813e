import JSONSchema

/// One channel in the embedded engine: its stream, sequence, dedup marks, latest state, groups
/// and dead letters.
struct ChannelState {
    struct Entry {
        var id: EntryID
        var envelope: Envelope
    }

    let name: ChannelName
    var entries = EntryLog<Entry>()
    var lastSequence: Int64 = 0
    var lastID = EntryID.zero
    var dedup = DedupWindow()
    var latest: (envelope: Envelope, expiresAt: Int64)?
    var retentionMilliseconds: Int64 = .max
    var groups: [String: GroupState] = [:]
    var deadLetters: [DeadLetter] = []
    var lastDeadLetterID = EntryID.zero
    var trimmedUndelivered = 0

    init(name: ChannelName) {
        self.name = name
    }

    /// The next entry id for an event stored at `milliseconds`.
    mutating func nextID(at milliseconds: Int64) -> EntryID {
        lastID = lastID.successor(at: milliseconds)
        return lastID
    }

    /// The receipt of the first publish of an event id, for a duplicate.
    func duplicateReceipt(_ mark: DedupWindow.Mark) -> PublishReceipt {
        PublishReceipt(
            eventID: mark.eventID, channel: name, sequenceNumber: mark.sequenceNumber, streamID: mark.id.position,
            timestamp: Timestamp(unixMilliseconds: mark.id.milliseconds), duplicate: true)
    }

    /// Forgets dedup marks whose window has passed.
    mutating func expireDedupMarks(now: Int64) {
        dedup.expire(now: now)
    }

    /// The smallest id some group has not been delivered yet, minus one: entries up to it are
    /// delivered to every group. `EntryID.max` without groups.
    var deliveredToEveryGroup: EntryID {
        var lowest = EntryID.max
        for group in groups.values where group.lastDelivered < lowest { lowest = group.lastDelivered }
        return lowest
    }

    /// Trims entries past the retention that every group has been delivered, then, above the hard
    /// cap, the oldest entries whatever the groups; returns how many undelivered ones the cap took.
    mutating func trim(now: Int64, hardCap: Int) -> Int {
        let cutoff = now &- retentionMilliseconds
        let guardID = deliveredToEveryGroup
        while let first = entries.first, first.id.milliseconds < cutoff, first.id <= guardID {
            entries.removeFirst()
        }
        var undelivered = 0
        while entries.count > hardCap {
            if entries.removeFirst().id > guardID { undelivered += 1 }
        }
        trimmedUndelivered += undelivered
        return undelivered
    }

    /// The offset in ``entries`` where a read from `start` begins, or `nil` for an invalid position.
    func offset(of start: ReadStart) -> Int? {
        switch start {
        case .beginning:
            return 0
        case .after(let position):
            guard let id = EntryID(position) else { return nil }
            return entries.partitioningIndex { $0.id <= id }
        case .sequence(let number):
            return entries.partitioningIndex { $0.envelope.sequenceNumber < number }
        case .time(let timestamp):
            return entries.partitioningIndex { $0.id.milliseconds < timestamp.unixMilliseconds }
        }
    }

    /// The stored entry with this id, if it is still in the stream.
    func entry(_ id: EntryID) -> Entry? {
        let offset = entries.partitioningIndex { $0.id < id }
        guard offset < entries.count, entries[offset].id == id else { return nil }
        return entries[offset]
    }
}
