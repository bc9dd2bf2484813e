/// The names and labels of every metric Switchyard reports, in one place, so every part (router,
/// engines, gateway, WebSocket sessions, the PostgreSQL relay) reports under one scheme.
///
/// Names are Prometheus names: `switchyard_` then what is counted, `_total` for counters,
/// `_seconds` and `_bytes` for units. The `redis_publish*` names are the ones OPA's dashboards
/// and alerts expect. docs/operations.md lists each metric with its type and meaning.
public enum SwitchyardMetrics {
    /// Metric names.
    public enum Name {
        /// Counter `{channel}`: events stored (duplicates excluded).
        public static let publishes = "switchyard_publishes_total"
        /// Counter `{channel, reason}`: publishes refused; the reason is the ``SwitchyardError/Code``.
        public static let publishErrors = "switchyard_publish_errors_total"
        /// Histogram `{channel}`: time from a publish call to its receipt, in seconds.
        public static let publishLatency = "switchyard_publish_latency_seconds"
        /// Histogram `{channel}`: payload size in bytes of stored events.
        public static let messageSize = "switchyard_message_size_bytes"
        /// Counter: payloads above the recommended 10 KB (accepted, and counted).
        public static let largeMessages = "switchyard_large_messages_total"
        /// Counter `{group}`: deliveries handed to a consumer group's handler, retries included.
        public static let deliveries = "switchyard_deliveries_total"
        /// Histogram `{group}`: time from an event's timestamp to its delivery, in seconds.
        public static let deliveryLatency = "switchyard_delivery_latency_seconds"
        /// Gauge `{channel, group}`: entries stored and not yet delivered to the group.
        public static let consumerLagEntries = "switchyard_consumer_lag_entries"
        /// Gauge `{channel, group}`: the larger of the stream head's time minus the time of the group's
        /// last delivered entry, and the idle time of its oldest pending entry.
        public static let consumerLagSeconds = "switchyard_consumer_lag_seconds"
        /// Gauge `{channel, group}`: entries delivered to the group and not yet acked.
        public static let pending = "switchyard_pending"
        /// Counter: entries acked by consumer groups.
        public static let acked = "switchyard_acked_total"
        /// Counter: handler attempts retried after a throw.
        public static let retries = "switchyard_retries_total"
        /// Counter: pending entries claimed from a consumer that stopped acking.
        public static let reclaimed = "switchyard_reclaimed_total"
        /// Counter: claimed entries already trimmed from the stream, dropped from the pending list.
        public static let reclaimDeleted = "switchyard_reclaim_deleted_total"
        /// Counter `{engine}`: undelivered entries trimmed because a stream hit its hard cap.
        public static let trimHardCap = "switchyard_trim_hard_cap_total"
        /// Counter: events moved to a dead-letter stream.
        public static let deadLetters = "switchyard_dead_letters_total"
        /// Counter: publishes of an `event_id` already stored within the dedup window (stored once).
        public static let dedupDropped = "switchyard_dedup_dropped_total"
        /// Counter: publishes refused by a rate limit.
        public static let rateLimited = "switchyard_rate_limited_total"
        /// Counter `{engine}`: keyspace scans for streams missing from the channel registry.
        public static let keyspaceScans = "switchyard_keyspace_scans_total"
        /// Counter `{engine}`: live messages dropped because the envelope names another channel
        /// than the Pub/Sub channel they arrived on.
        public static let liveForged = "switchyard_live_forged_total"
        /// Counter `{result}`: messages the Redis bridge took from plain publishers, by what became
        /// of them: `stored`, `duplicate` (another bridge stored it), `refused` (dead-lettered),
        /// `skipped` (Switchyard's own live message) or `failed` (Redis could not be reached).
        public static let bridgeMessages = "switchyard_bridge_messages_total"
        /// Gauge `{engine}`: events waiting in the local spool for Redis to come back.
        public static let spoolDepth = "switchyard_spool_depth"
        /// Gauge: 1 when Redis answers, 0 when it does not (absent on the embedded engine).
        public static let redisUp = "switchyard_redis_up"
        /// Gauge: 1 when PostgreSQL answers, 0 when it does not.
        public static let postgresUp = "switchyard_postgres_up"
        /// Gauge: age of the oldest committed outbox row not yet relayed to Redis, in seconds.
        public static let relayLag = "switchyard_relay_lag_seconds"
        /// Gauge: open WebSocket sessions.
        public static let wsConnections = "switchyard_ws_connections"
        /// Counter `{channel}`: events replaced by a newer one for a slow browser (conflatable channels).
        public static let wsConflated = "switchyard_ws_conflated_total"
        /// Counter: WebSocket sessions closed because the client could not keep up.
        public static let wsDisconnectedSlow = "switchyard_ws_disconnected_slow_total"
        /// Counter `{reason}`: requests the gateway refused before authentication: a `Host` it does
        /// not serve (`host`), an `Origin` it does not allow (`origin`), a write without a JSON
        /// content type (`content_type`), a `/metrics` scrape without its token (`metrics_token`).
        public static let gatewayRefused = "switchyard_gateway_refused_total"
        /// Counter `{reason}`: WebSocket requests refused by a limit: `patterns` (a subscribe past
        /// the patterns per session), `sessions` (a session past the sessions per principal).
        public static let wsRefused = "switchyard_ws_refused_total"
        /// Counter `{channel}`: events stored (OPA's name for ``publishes``).
        public static let redisPublishes = "redis_publishes_total"
        /// Counter `{channel}`: publishes refused (OPA's name for ``publishErrors``, without the reason).
        public static let redisPublishErrors = "redis_publish_errors_total"
        /// Histogram `{channel}`: publish latency in seconds (OPA's name for ``publishLatency``).
        public static let redisPublishLatency = "redis_publish_latency_seconds"
    }

    /// Label names.
    public enum Label {
        /// The channel label: see ``SwitchyardMetrics/channelLabel(for:in:)``.
        public static let channel = "channel"
        /// A consumer group's name.
        public static let group = "group"
        /// Why a publish was refused: a ``SwitchyardError/Code`` such as `validation_error`.
        public static let reason = "reason"
        /// The engine: `redis` or `embedded`.
        public static let engine = "engine"
        /// An outcome: for the bridge, what became of a message it took (`stored`, `duplicate`,
        /// `refused`, `skipped`, `failed`); for a state read, `hit` or `miss`.
        public static let result = "result"
    }

    /// The `channel` label value when no contract covers a channel.
    public static let otherChannel = "other"

    /// Buckets of the ``Name/messageSize`` histogram, in bytes: 10 KB is the recommended size,
    /// 1 MB the hard limit.
    public static let messageSizeBuckets: [Double] = [256, 1024, 4096, 10_240, 65_536, 262_144, 1_048_576]

    /// The `channel` label of a channel: the channel or pattern of the contract that covers it
    /// (`trades:order_filled`, `price.updated.*`), or ``otherChannel``.
    ///
    /// Contracts are a fixed, reviewed list, so the label's values are bounded however many
    /// channels a pattern contract covers (`trades:user_0001`, `trades:user_0002`, … are all `trades:*`).
    public static func channelLabel(for channel: ChannelName, in contracts: ContractRegistry) -> String {
        contracts.contract(for: channel)?.channel.rawValue ?? otherChannel
    }
}
