import NIOCore
import Switchyard
import Synchronization

/// Envelopes of recent pub/sub messages, decoded once however many live subscribers receive them.
///
/// Every subscriber of a pattern gets the same message bytes from the shared subscriber connection;
/// the first one to decode them leaves the envelope here, keyed by the bytes themselves, and the
/// others find it. The cache holds the last `capacity` messages and forgets the oldest first.
final class LiveEnvelopeCache: Sendable {
    private struct Storage {
        var envelopes: [ByteBuffer: Envelope] = [:]
        var order: [ByteBuffer?]
        var next = 0
    }

    private let storage: Mutex<Storage>

    init(capacity: Int = 2048) {
        storage = Mutex(Storage(order: Array(repeating: nil, count: max(1, capacity))))
    }

    /// The envelope the message holds, or `nil` when it is not one.
    func envelope(of message: ByteBuffer) -> Envelope? {
        if let cached = storage.withLock({ $0.envelopes[message] }) { return cached }
        guard let envelope = try? Envelope(decoding: message.readableBytesView) else { return nil }
        storage.withLock { storage in
            guard storage.envelopes[message] == nil else { return }
            if let evicted = storage.order[storage.next] { storage.envelopes[evicted] = nil }
            storage.order[storage.next] = message
            storage.next = (storage.next + 1) % storage.order.count
            storage.envelopes[message] = envelope
        }
        return envelope
    }
}
