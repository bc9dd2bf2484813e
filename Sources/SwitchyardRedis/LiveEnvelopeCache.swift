import NIOCore
import Switchyard

/// Envelopes of recent pub/sub messages, decoded once however many live subscribers receive them.
///
/// Every subscriber of a pattern gets the same message bytes from the shared subscriber connection;
/// the first one to decode them leaves the envelope here, keyed by the bytes themselves, and the
/// others find it. The cache holds the last `capacity` messages and forgets the oldest first.
final class LiveEnvelopeCache: Sendable {
    private let envelopes: RecentValues<ByteBuffer, Envelope>

    init(capacity: Int = 2048) {
        envelopes = RecentValues(capacity: capacity)
    }

    /// The envelope the message holds, or `nil` when it is not one.
    func envelope(of message: ByteBuffer) -> Envelope? {
        envelopes.value(for: message, orMakeIfValid: { try? Envelope(decoding: message.readableBytesView) })
    }
}
