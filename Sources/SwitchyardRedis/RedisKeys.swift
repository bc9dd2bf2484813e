import Switchyard

/// The Redis keys of one channel, exactly as docs/wire-format.md names them: every key carries the
/// channel in a hash tag, so a channel's keys share one Redis Cluster slot.
struct RedisKeys: Sendable {
    let channel: ChannelName

    init(_ channel: ChannelName) { self.channel = channel }

    /// `stream:{C}`: one entry per event, field `envelope`.
    var stream: String { "stream:{\(channel.rawValue)}" }
    /// `seq:{C}`: the last sequence number given out.
    var sequence: String { "seq:{\(channel.rawValue)}" }
    /// `latest:{C}`: the newest envelope, expiring with the retention.
    var latest: String { "latest:{\(channel.rawValue)}" }
    /// `dlq:{C}`: the dead letters.
    var deadLetters: String { "dlq:{\(channel.rawValue)}" }
    /// `meta:{C}`: a hash with `last_ms`, `retention_ms` and `trimmed_undelivered` (Switchyard's own bookkeeping).
    var meta: String { "meta:{\(channel.rawValue)}" }
    /// `dedup:{C}:EVENT_ID`: the dedup mark of one event.
    func dedup(_ eventID: EventID) -> String { "dedup:{\(channel.rawValue)}:\(eventID)" }
    /// `rate:{C}:SOURCE`: the token bucket of one publishing service on the channel.
    func rate(source: String) -> String { "rate:{\(channel.rawValue)}:\(source)" }

    /// The channel named by a `stream:{C}` key, or `nil` for another key.
    static func channel(ofStreamKey key: String) -> ChannelName? {
        guard key.hasPrefix("stream:{"), key.hasSuffix("}") else { return nil }
        return try? ChannelName(String(key.dropFirst(8).dropLast()))
    }
}
