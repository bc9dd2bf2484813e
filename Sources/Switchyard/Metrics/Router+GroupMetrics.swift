extension Router {
    /// Reads every consumer group's state from the engine and sets the gauges
    /// ``SwitchyardMetrics/Name/consumerLagEntries``, ``SwitchyardMetrics/Name/consumerLagSeconds``
    /// and ``SwitchyardMetrics/Name/pending``.
    ///
    /// A group's lag in seconds is the larger of two: the stream head's time minus the time of its
    /// last delivered entry (events not yet handed out) and the idle time of its oldest pending
    /// entry (an event handed out and not acked: a slow or stuck handler).
    ///
    /// Groups on channels that share a `channel` label (one pattern contract) are added up:
    /// entries and pending are summed, seconds is the largest. A metrics endpoint calls this at
    /// scrape time; it costs one engine call per channel and two or three per group.
    /// - Throws: ``SwitchyardError`` when the engine cannot list its channels; a channel or group
    ///   that cannot be read is skipped.
    public func refreshGroupMetrics() async throws(SwitchyardError) {
        struct Lag {
            var entries = 0
            var seconds = 0.0
            var pending = 0
        }
        var lags: [String: [String: Lag]] = [:]
        for channel in try await engine.channels(matching: [try ChannelPattern("*")]) {
            guard let info = try? await engine.info(channel), !info.groups.isEmpty else { continue }
            let label = metrics.label(channel)
            for group in info.groups {
                // A group deleted between the two reads is skipped, not an error.
                guard let state = try? await engine.groupInfo(group, on: channel) else { continue }
                var lag = lags[label, default: [:]][group, default: Lag()]
                lag.entries += state.lag
                lag.pending += state.pending
                let idle = state.oldestPendingIdle.map { Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18 } ?? 0
                lag.seconds = max(lag.seconds, (try? await lagSeconds(state, info: info)) ?? 0, idle)
                lags[label, default: [:]][group] = lag
            }
        }
        for (label, groups) in lags {
            for (group, lag) in groups {
                metrics.lag(channel: label, group: group, entries: lag.entries, seconds: lag.seconds, pending: lag.pending)
            }
        }
    }

    /// The stream head's time minus the time of the group's last delivered entry (or, when that
    /// entry is gone or there is none, of its oldest undelivered one); 0 without lag.
    private func lagSeconds(_ state: GroupInfo, info: ChannelInfo) async throws(SwitchyardError) -> Double {
        guard state.lag > 0, info.length > 0 else { return 0 }
        guard let head = try await engine.read(state.channel, from: .sequence(info.lastSequenceNumber), limit: 1).first else { return 0 }
        let lastDelivered = max(info.lastSequenceNumber - Int64(state.lag), info.firstSequenceNumber ?? 1)
        guard let entry = try await engine.read(state.channel, from: .sequence(lastDelivered), limit: 1).first else { return 0 }
        return max(0, Double(head.envelope.timestamp.unixMilliseconds - entry.envelope.timestamp.unixMilliseconds) / 1000)
    }
}
