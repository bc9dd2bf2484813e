/// How a channel stands between a dual-write's primary and its mirror.
public struct MirrorReport: Sendable, Hashable {
    /// The channel.
    public var channel: ChannelName
    /// The primary's last sequence number.
    public var primaryLast: Int64
    /// The primary's oldest retained sequence number, `nil` when it holds no entries.
    public var primaryFirst: Int64?
    /// The mirror's last sequence number.
    public var mirrorLast: Int64
    /// Events the primary holds that the mirror lacks: the mirror's tail is behind by this many.
    public var missing: Int
    /// Sequence numbers both hold with different event ids: the two engines disagree there and
    /// nothing can repair it (the mirror's records are immutable).
    public var mismatched: [Int64]
    /// Events the mirror lacks that the primary no longer holds (trimmed by its retention).
    public var lost: Int

    /// Whether the two agree.
    public var isInSync: Bool { missing == 0 && mismatched.isEmpty && lost == 0 && mirrorLast <= primaryLast }
}

/// Finds and repairs the divergence between a dual-write's primary and its mirror
/// (`switchyard reconcile --kafka`): the events the mirror lacks are written to it from the
/// primary's stream, in order, with the primary's sequence numbers.
public struct MirrorReconciler: Sendable {
    /// The engine of record.
    public let primary: any Engine
    /// The copy.
    public let mirror: any EngineMirror

    /// Creates a reconciler.
    public init(primary: any Engine, mirror: any EngineMirror) {
        self.primary = primary
        self.mirror = mirror
    }

    /// Compares a channel: the tails, and the event ids of the last `window` sequence numbers both hold.
    public func compare(_ channel: ChannelName, window: Int = 10_000) async throws(SwitchyardError) -> MirrorReport {
        let info = try await primary.info(channel)
        let mirrorLast = try await mirror.lastSequence(of: channel)
        let first = info.firstSequenceNumber
        var mismatched: [Int64] = []
        if let first, mirrorLast >= first {
            let start = max(first, mirrorLast - Int64(window) + 1)
            let theirs = try await events(of: mirror, channel, from: start, through: min(mirrorLast, info.lastSequenceNumber))
            let ours = try await events(of: primary, channel, from: start, through: min(mirrorLast, info.lastSequenceNumber))
            let primaryIDs = Dictionary(ours.map { ($0.envelope.sequenceNumber, $0.envelope.eventID) }, uniquingKeysWith: { first, _ in first })
            for event in theirs where primaryIDs[event.envelope.sequenceNumber].map({ $0 != event.envelope.eventID }) ?? false {
                mismatched.append(event.envelope.sequenceNumber)
            }
        }
        let behind = max(0, info.lastSequenceNumber - mirrorLast)
        let retainedFrom = first ?? (info.lastSequenceNumber + 1)
        let lost = max(0, min(behind, retainedFrom - mirrorLast - 1))
        return MirrorReport(
            channel: channel, primaryLast: info.lastSequenceNumber, primaryFirst: first, mirrorLast: mirrorLast,
            missing: Int(behind - lost), mismatched: mismatched, lost: Int(lost))
    }

    /// Writes what the mirror lacks from the primary's stream; returns how many events it stored.
    /// A channel the mirror holds nothing of starts at the primary's oldest retained event (the
    /// ``MirrorReport/lost`` ones before it are on neither engine).
    /// - Throws: `invalid_position` when the mirror holds the channel and the primary no longer
    ///   holds the first event it lacks: the gap cannot be filled, and nothing is written.
    public func repair(_ report: MirrorReport) async throws(SwitchyardError) -> Int {
        guard report.missing > 0 else { return 0 }
        if report.lost > 0 && report.mirrorLast > 0 {
            throw SwitchyardError(
                .invalidPosition,
                "the primary no longer holds sequence \(report.mirrorLast + 1) of '\(report.channel)'; the mirror cannot be filled without a gap",
                details: ["lost": .int(Int64(report.lost))])
        }
        var stored = 0
        var next = max(report.mirrorLast + 1, report.primaryFirst ?? 1)
        while next <= report.primaryLast {
            let page = try await events(of: primary, report.channel, from: next, through: report.primaryLast, limit: 1_000)
            guard let last = page.last else { break }
            stored += try await mirror.mirror(page.map { MirroredEvent(envelope: $0.envelope, position: $0.position) })
            next = last.envelope.sequenceNumber + 1
        }
        return stored
    }

    /// The engine's events of a channel with sequence numbers in a range.
    func events(
        of engine: any Engine, _ channel: ChannelName, from start: Int64, through end: Int64, limit: Int = .max
    ) async throws(SwitchyardError) -> [StoredEvent] {
        var events: [StoredEvent] = []
        var next = start
        while next <= end, events.count < limit {
            let page = try await engine.read(channel, from: .sequence(next), limit: Int(min(1_000, end - next + 1)))
            let wanted = page.filter { $0.envelope.sequenceNumber <= end }
            guard let last = wanted.last else { break }
            events += wanted
            next = last.envelope.sequenceNumber + 1
        }
        return events
    }
}
