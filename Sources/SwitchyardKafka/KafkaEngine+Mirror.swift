import Switchyard

extension KafkaEngine: EngineMirror {
    /// Stores another engine's events with their sequence numbers, through each channel's writer,
    /// so they keep their order with anything else written there.
    @discardableResult
    public func mirror(_ events: [MirroredEvent]) async throws(SwitchyardError) -> Int {
        var order: [ChannelName] = []
        var byChannel: [ChannelName: [MirroredEvent]] = [:]
        for event in events {
            if byChannel[event.envelope.channel] == nil { order.append(event.envelope.channel) }
            byChannel[event.envelope.channel, default: []].append(event)
        }
        var stored = 0
        for channel in order {
            stored += try await submit(.mirror(byChannel[channel]!), to: channel).count
        }
        return stored
    }

    /// The channel's last sequence number on the brokers, as this engine loaded and wrote it.
    public func lastSequence(of channel: ChannelName) async throws(SwitchyardError) -> Int64 {
        try await load(channel)
        return writers.withLock { $0[channel]?.lastSequence ?? 0 }
    }
}
