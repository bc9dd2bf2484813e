import Switchyard

/// The bookkeeping of ``Spool``, free of file I/O: how many events and bytes the file holds,
/// where the replay stands, and what an open, an append, a replay or an acknowledgement does next.
///
/// The spool's file is append-only: events are replayed from ``replayedOffset`` forward in the
/// order they were written, and the file is truncated once every event in it is acknowledged. A
/// batch that is not acknowledged (its store failed) is handed out again by the next read, so its
/// events are replayed again with their ids and the dedup window stores each once.
struct SpoolState: Sendable {
    enum OpenAction: Equatable, Sendable {
        case none
        /// The file ends inside a line (a write cut short by a crash): write a newline, so the
        /// next record starts on its own line; replay skips the fragment.
        case closeCutLine
    }

    enum AppendAction: Sendable {
        /// Write the lines at the end of the file, fsync, then report ``appended(events:bytes:)``.
        case write
        /// The bound would be passed: refuse the whole batch.
        case refuse(SwitchyardError)
    }

    enum ReadAction: Equatable, Sendable {
        /// Everything written is acknowledged: nothing to replay.
        case none
        /// Read the lines between these offsets, oldest first.
        case read(from: UInt64, to: UInt64)
    }

    enum AcknowledgeAction: Equatable, Sendable {
        case none
        /// Every event in the file is stored: truncate it, then report ``truncated()``.
        case truncate
    }

    let maxEvents: Int
    let maxBytes: UInt64
    /// Events waiting to be replayed.
    private(set) var depth = 0
    /// Bytes in the file.
    private(set) var size: UInt64 = 0
    /// Where the next replay starts: the end of the last acknowledged batch.
    private(set) var replayedOffset: UInt64 = 0

    init(maxEvents: Int, maxBytes: Int) {
        self.maxEvents = maxEvents
        self.maxBytes = UInt64(max(0, maxBytes))
    }

    /// Whether the spool holds events, so a new publish joins them to keep the order.
    var isSpooling: Bool { depth > 0 }

    /// The file was opened with these contents: every line is an event to replay.
    mutating func opened(_ contents: some BidirectionalCollection<UInt8>) -> OpenAction {
        let newline = UInt8(ascii: "\n")
        var lines = contents.reduce(0) { $1 == newline ? $0 + 1 : $0 }
        var size = UInt64(contents.count)
        var action = OpenAction.none
        if let last = contents.last, last != newline {
            lines += 1
            size += 1
            action = .closeCutLine
        }
        depth = lines
        self.size = size
        replayedOffset = 0
        return action
    }

    /// Whether `events` lines of `bytes` bytes in all fit within the bounds.
    func append(events: Int, bytes: Int) -> AppendAction {
        guard depth + events <= maxEvents, size + UInt64(bytes) <= maxBytes else {
            return .refuse(
                SwitchyardError(
                    .spoolFull, "Redis is unreachable and the local spool is full; the publish was not stored",
                    details: ["spooled_events": .int(Int64(depth)), "max_events": .int(Int64(maxEvents))]))
        }
        return .write
    }

    /// The lines of an ``append(events:bytes:)`` are written and fsynced.
    mutating func appended(events: Int, bytes: Int) {
        depth += events
        size += UInt64(bytes)
    }

    /// What to replay next: from the end of the last acknowledged batch to the end of the file.
    var nextRead: ReadAction {
        replayedOffset < size ? .read(from: replayedOffset, to: size) : .none
    }

    /// A batch of `events` ending at `endOffset` is stored in Redis.
    mutating func acknowledge(events: Int, endOffset: UInt64) -> AcknowledgeAction {
        replayedOffset = endOffset
        depth = max(0, depth - events)
        return replayedOffset >= size ? .truncate : .none
    }

    /// The file is truncated: it is empty, and so is the spool.
    mutating func truncated() {
        depth = 0
        size = 0
        replayedOffset = 0
    }
}
