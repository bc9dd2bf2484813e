import NIOCore
import Switchyard

/// The frames one WebSocket connection has waiting to be sent, at most `limit`.
///
/// When a frame would pass the limit, every conflatable channel keeps only its newest waiting
/// event (the incoming one included); if that frees no room, the push overflows and the
/// connection is closed. Frames leave in the order they came, except that a conflated channel's
/// surviving event takes the place of its newest waiting one.
struct SessionQueue {
    enum Frame {
        case control(ByteBuffer)
        case event(channel: ChannelName, conflatable: Bool, bytes: ByteBuffer)
    }

    let limit: Int
    /// Told how many events of a channel a conflation dropped.
    let onConflated: (@Sendable (ChannelName, Int) -> Void)?
    private var frames: [Frame] = []
    private var head = 0

    init(limit: Int, onConflated: (@Sendable (ChannelName, Int) -> Void)? = nil) {
        self.limit = max(1, limit)
        self.onConflated = onConflated
    }

    /// Frames waiting.
    var count: Int { frames.count - head }

    /// Queues a frame; `false` when it does not fit even after conflation.
    mutating func push(_ frame: Frame) -> Bool {
        if count >= limit {
            conflate(adding: frame)
            return count <= limit
        }
        frames.append(frame)
        return true
    }

    /// The oldest waiting frame's bytes.
    mutating func pop() -> ByteBuffer? {
        guard head < frames.count else { return nil }
        let frame = frames[head]
        head += 1
        if head >= 64 && head * 2 >= frames.count {
            frames.removeFirst(head)
            head = 0
        }
        switch frame {
        case .control(let bytes), .event(_, _, let bytes): return bytes
        }
    }

    /// Appends `frame`, then drops every conflatable event that has a newer one of its channel waiting.
    private mutating func conflate(adding frame: Frame) {
        var waiting = Array(frames[head...])
        waiting.append(frame)
        var newer: Set<ChannelName> = []
        var dropped: [ChannelName: Int] = [:]
        var kept: [Frame] = []
        kept.reserveCapacity(waiting.count)
        for frame in waiting.reversed() {
            if case .event(let channel, true, _) = frame {
                guard newer.insert(channel).inserted else {
                    dropped[channel, default: 0] += 1
                    continue
                }
            }
            kept.append(frame)
        }
        frames = kept.reversed()
        head = 0
        if let onConflated { for (channel, count) in dropped { onConflated(channel, count) } }
    }
}
