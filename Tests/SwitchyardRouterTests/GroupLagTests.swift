import RedisTestSupport
import Switchyard
import Synchronization
import Testing

/// A real engine that stores one event right after its next read of one channel's info: a
/// publisher that lands between a reader's read of the channel and its read of a group.
private final class PublishingAfterChannelRead: ForwardingEngine, @unchecked Sendable {
    private let armed = Mutex<(channel: ChannelName, publish: @Sendable () async throws -> Void)?>(nil)

    func arm(_ channel: ChannelName, _ publish: @escaping @Sendable () async throws -> Void) {
        armed.withLock { $0 = (channel, publish) }
    }

    override func info(_ channel: ChannelName) async throws(SwitchyardError) -> ChannelInfo {
        let info = try await base.info(channel)
        let publish = armed.withLock { armed -> (@Sendable () async throws -> Void)? in
            guard let publish = armed, publish.channel == channel else { return nil }
            armed = nil
            return publish.publish
        }
        if let publish {
            do { try await publish() } catch { throw SwitchyardError(.engineUnavailable, "the publisher failed: \(error)") }
        }
        return info
    }
}

@Suite("A group's lag read while events are stored")
struct GroupLagTests {
    /// A group created after one event is behind by the two events after it, 60 ms apart; the
    /// second is stored between the refresh's read of the channel and its read of the group.
    @Test("a publish between the reads of the channel and of the group does not make the lag read low", arguments: EngineKind.all)
    func publishBetweenReads(kind: EngineKind) async throws {
        try await kind.isolated {
            let engine = PublishingAfterChannelRead(kind.make(SystemClock(), 1_000_000))
            let router = Fixtures.router(engine)
            let channel = Fixtures.channel("test:lag.race")
            try await router.publish(to: channel, payload: Fixtures.payload(0))
            try await engine.createGroup("laggards", on: channel, start: .newest)
            try await router.publish(to: channel, payload: Fixtures.payload(1))
            try await Task.sleep(for: .milliseconds(60))

            engine.arm(channel) { try await router.publish(to: channel, payload: Fixtures.payload(2)) }
            let snapshot = try await router.streamsSnapshot()
            let depth = try #require(snapshot.groups.first { $0.channel == channel && $0.group == "laggards" })
            #expect(depth.lag == 2)
            // From the group's last delivered event (the first) to the newest (the third).
            let stored = try await router.read(channel, from: .beginning, limit: 3).map(\.envelope.timestamp.unixMilliseconds)
            #expect(stored.count == 3)
            #expect(depth.lagSeconds == Double(stored[2] - stored[0]) / 1000, "\(depth), stored at \(stored)")
            #expect(depth.lagSeconds >= 0.06)

            // The pair the snapshot is built on: the lag counted against the channel as it was then.
            engine.arm(channel) { try await router.publish(to: channel, payload: Fixtures.payload(3)) }
            let before = try await router.info(channel)
            let (state, info) = try await router.groupInfoWithChannel("laggards", on: channel, channelReadBefore: before)
            #expect(before.lastSequenceNumber == 3)
            #expect(state.lag == 3)
            #expect(info.lastSequenceNumber == 4)
        }
    }
}
