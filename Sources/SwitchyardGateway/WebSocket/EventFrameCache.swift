import NIOCore
import Switchyard

/// The `event` frames of recent events, serialized once and shared by every WebSocket session.
///
/// An event that reaches a thousand connections is written to JSON once: the sessions get the same
/// `ByteBuffer`, whose storage NIO writes to each socket without copying. The cache holds the last
/// `capacity` events by channel, `event_id` and sequence number (callers choose event ids, and
/// they are unique only within a channel), and forgets the oldest first.
///
/// Each event is verified once, when its frame is made (``Switchyard/Router/verify(_:)``): an event
/// of a critical channel whose signature does not verify gets a `refused` frame in its place, so
/// the session's sequence numbers still advance and the client sees what was withheld and why.
final class EventFrameCache: Sendable {
    private struct Key: Hashable {
        let channel: ChannelName
        let eventID: EventID
        let sequenceNumber: Int64
    }

    private let frames: RecentValues<Key, ByteBuffer>
    private let allocator = ByteBufferAllocator()
    private let router: Switchyard.Router?

    /// - Parameters:
    ///   - router: The router whose signing keys verify the events; `nil` verifies nothing.
    ///   - capacity: How many events are kept; a few seconds of the busiest fan-out is enough.
    init(router: Switchyard.Router? = nil, capacity: Int = 4096) {
        self.router = router
        frames = RecentValues(capacity: capacity)
    }

    /// The `{"type":"event","envelope":…}` frame of `envelope`, or its `refused` frame.
    func frame(for envelope: Envelope) -> ByteBuffer {
        let key = Key(channel: envelope.channel, eventID: envelope.eventID, sequenceNumber: envelope.sequenceNumber)
        return frames.value(for: key, orMake: { makeFrame(for: envelope) })
    }

    private func makeFrame(for envelope: Envelope) -> ByteBuffer {
        let bytes: [UInt8]
        do {
            try router?.verify(envelope)
            bytes = ServerFrame.event(envelope)
        } catch {
            router?.countRefusedEvent(envelope, error: error, by: "gateway")
            bytes = ServerFrame.refused(envelope, error)
        }
        var buffer = allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        return buffer
    }
}
