import JSONSchema
import Switchyard
import Synchronization
import RedisTestSupport
import Testing

/// A real engine with a record of the reads asked of it.
private final class ReadCountingEngine: ForwardingEngine, @unchecked Sendable {
    private let reads = Mutex<(calls: Int, largestLimit: Int, envelopes: Int)>((0, 0, 0))

    var calls: Int { reads.withLock { $0.calls } }
    var largestLimit: Int { reads.withLock { $0.largestLimit } }
    var envelopesRead: Int { reads.withLock { $0.envelopes } }
    func reset() { reads.withLock { $0 = (0, 0, 0) } }

    override func read(_ channel: ChannelName, from start: ReadStart, limit: Int) async throws(SwitchyardError) -> [StoredEvent] {
        let events = try await base.read(channel, from: start, limit: limit)
        reads.withLock { $0 = ($0.calls + 1, max($0.largestLimit, limit), $0.envelopes + events.count) }
        return events
    }
}

@Suite("Replay across many channels", .needs(.redis))
struct ReplayMergeTests {
    @Test("a pattern replay with a small limit over many channels reads bounded pages and returns what a full sort would", arguments: EngineKind.all)
    func boundedMerge(kind: EngineKind) async throws {
        try await kind.isolated {
            let engine = ReadCountingEngine(kind.make(SystemClock(), 1_000_000))
            let router = Fixtures.router(engine)
            let channels = (0..<40).map { Fixtures.channel("test:many.c\($0)") }
            for round in 1...50 {
                // Every channel in one batch: many events share a millisecond, ordered by channel then.
                _ = try await router.publish(channels.shuffled().map { PublishRequest(channel: $0, payload: Fixtures.payload(round)) })
            }
            let pattern = Fixtures.pattern("test:many.*")
            var everything: [Envelope] = []
            for channel in channels { everything += try await router.replay(try ChannelPattern(channel.rawValue), limit: 100) }
            #expect(everything.count == 2000)
            everything.sort { ($0.timestamp, $0.channel, $0.sequenceNumber) < ($1.timestamp, $1.channel, $1.sequenceNumber) }

            for limit in [1, 10, 100, 1000, 5000] {
                engine.reset()
                let merged = try await router.replay(pattern, limit: limit)
                #expect(merged == Array(everything.prefix(limit)), "limit \(limit)")
                // A first page per channel of the limit shared out; later pages at most twice
                // what the channel gave, up to 512.
                let page = min(limit, 512, max(1, limit / channels.count))
                #expect(engine.largestLimit <= min(limit, 512))
                #expect(engine.envelopesRead <= 3 * limit + channels.count * page, "limit \(limit): read \(engine.envelopesRead)")
            }
            let since = try await router.replay(pattern, since: .sequence(19), limit: 1000)
            #expect(since == Array(everything.filter { $0.sequenceNumber >= 19 }.prefix(1000)))
            let between = try await router.replay(pattern, since: .sequence(3), until: .sequence(4), limit: 70)
            #expect(between == Array(everything.filter { (3...4).contains($0.sequenceNumber) }.prefix(70)))
        }
    }
}
