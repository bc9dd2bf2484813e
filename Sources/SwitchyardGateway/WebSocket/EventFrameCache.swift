import NIOCore
import Switchyard
import Synchronization

/// The `event` frames of recent events, serialized once and shared by every WebSocket session.
///
/// An event that reaches a thousand connections is written to JSON once: the sessions get the same
/// `ByteBuffer`, whose storage NIO writes to each socket without copying. The cache holds the last
/// `capacity` events by `event_id` and forgets the oldest first.
final class EventFrameCache: Sendable {
    private struct Storage {
        var frames: [EventID: ByteBuffer] = [:]
        var order: [EventID?]
        var next = 0
    }

    private let storage: Mutex<Storage>
    private let allocator = ByteBufferAllocator()

    /// - Parameter capacity: How many events are kept; a few seconds of the busiest fan-out is enough.
    init(capacity: Int = 4096) {
        storage = Mutex(Storage(order: Array(repeating: nil, count: max(1, capacity))))
    }

    /// The `{"type":"event","envelope":…}` frame of `envelope`.
    func frame(for envelope: Envelope) -> ByteBuffer {
        if let cached = storage.withLock({ $0.frames[envelope.eventID] }) { return cached }
        let bytes = ServerFrame.event(envelope)
        var buffer = allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        let frame = buffer
        storage.withLock { storage in
            guard storage.frames[envelope.eventID] == nil else { return }
            if let evicted = storage.order[storage.next] { storage.frames[evicted] = nil }
            storage.order[storage.next] = envelope.eventID
            storage.next = (storage.next + 1) % storage.order.count
            storage.frames[envelope.eventID] = frame
        }
        return frame
    }
}
