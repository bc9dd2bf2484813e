/// One consumer group on one channel: what it has not been delivered and not acked.
public struct GroupDepth: Sendable, Hashable {
    /// The channel.
    public var channel: ChannelName
    /// The group.
    public var group: String
    /// Entries delivered to the group and not yet acked.
    public var pending: Int
    /// Entries stored and not yet delivered to the group.
    public var lag: Int
    /// The larger of the stream head's time minus the time of the group's last delivered entry,
    /// and the idle time of its oldest pending entry, in seconds.
    public var lagSeconds: Double

    /// Creates the depth.
    public init(channel: ChannelName, group: String, pending: Int, lag: Int, lagSeconds: Double) {
        self.channel = channel
        self.group = group
        self.pending = pending
        self.lag = lag
        self.lagSeconds = lagSeconds
    }
}

/// The state of every stream with its consumer groups, read from the engine at one moment.
public struct StreamsSnapshot: Sendable, Hashable {
    /// Every group of every channel.
    public var groups: [GroupDepth]
    /// Per channel, the entries trimmed at the hard cap before every group had them
    /// (``ChannelInfo/trimmedUndelivered``, a count that only grows).
    public var trimmedUndelivered: [ChannelName: Int]

    /// Creates a snapshot.
    public init(groups: [GroupDepth] = [], trimmedUndelivered: [ChannelName: Int] = [:]) {
        self.groups = groups
        self.trimmedUndelivered = trimmedUndelivered
    }
}

extension Router {
    /// What the router has counted per `channel` label (see ``SwitchyardMetrics/channelLabel(for:in:)``)
    /// since it started: events stored, publishes refused, publish latencies.
    public func publishStatistics() -> [String: PublishStatistics] {
        metrics.publishStatistics()
    }

    /// Reads every channel's hard-cap trims and every consumer group's pending entries and lag.
    ///
    /// Each group is read with its channel as ``groupInfoWithChannel(_:on:channelReadBefore:)``
    /// reads them, so a publish between the reads does not make the lag in seconds read low. It
    /// costs one engine call per channel and two to four per group (up to eight while the channel is
    /// stored to between the reads).
    /// - Throws: ``SwitchyardError`` when the engine cannot list its channels; a channel or group
    ///   that cannot be read is skipped.
    public func streamsSnapshot() async throws(SwitchyardError) -> StreamsSnapshot {
        var snapshot = StreamsSnapshot()
        for channel in try await engine.channels(matching: [try ChannelPattern("*")]) {
            guard var latest = try? await engine.info(channel) else { continue }
            if latest.trimmedUndelivered > 0 { snapshot.trimmedUndelivered[channel] = latest.trimmedUndelivered }
            for group in latest.groups {
                // A group deleted between the two reads is skipped, not an error.
                guard let (state, info) = try? await groupInfoWithChannel(group, on: channel, channelReadBefore: latest) else { continue }
                latest = info
                let idle = state.oldestPendingIdle.map { Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18 } ?? 0
                let behind = (try? await lagSeconds(state, info: info)) ?? 0
                snapshot.groups.append(
                    GroupDepth(channel: channel, group: group, pending: state.pending, lag: state.lag, lagSeconds: max(behind, idle)))
            }
        }
        return snapshot
    }

    /// Reads every consumer group's state from the engine (``streamsSnapshot()``) and sets the gauges
    /// ``SwitchyardMetrics/Name/consumerLagEntries``, ``SwitchyardMetrics/Name/consumerLagSeconds``
    /// and ``SwitchyardMetrics/Name/pending``.
    ///
    /// A group's lag in seconds is the larger of two: the stream head's time minus the time of its
    /// last delivered entry (events not yet handed out) and the idle time of its oldest pending
    /// entry (an event handed out and not acked: a slow or stuck handler).
    ///
    /// Groups on channels that share a `channel` label (one pattern contract) are added up:
    /// entries and pending are summed, seconds is the largest. A metrics endpoint calls this at
    /// scrape time.
    /// - Throws: ``SwitchyardError`` when the engine cannot list its channels; a channel or group
    ///   that cannot be read is skipped.
    public func refreshGroupMetrics() async throws(SwitchyardError) {
        struct Lag {
            var entries = 0
            var seconds = 0.0
            var pending = 0
        }
        var lags: [String: [String: Lag]] = [:]
        for depth in try await streamsSnapshot().groups {
            let label = metrics.label(depth.channel)
            var lag = lags[label, default: [:]][depth.group, default: Lag()]
            lag.entries += depth.lag
            lag.pending += depth.pending
            lag.seconds = max(lag.seconds, depth.lagSeconds)
            lags[label, default: [:]][depth.group] = lag
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
