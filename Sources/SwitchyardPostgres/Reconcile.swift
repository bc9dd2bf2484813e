import JSONSchema
import Logging
import PostgresNIO
import Switchyard

/// Compares the archive with the engine for a time window, and repairs what the engine lacks.
public struct Reconciler: Sendable {
    /// What one channel's comparison found.
    public struct ChannelReport: Sendable {
        /// The channel.
        public var channel: ChannelName
        /// Events in the archive that the engine should hold (at or after its oldest retained
        /// sequence number) and does not.
        public var missingInEngine: [Envelope]
        /// Events the engine holds that the archive lacks (published around the outbox, or not yet archived).
        public var missingInArchive: [Envelope]
        /// Archived events older than the engine's retention: expected to be absent there.
        public var trimmed: Int
        /// Events found on both sides.
        public var matched: Int
    }

    /// The archive.
    public let archive: Archive
    /// The router whose engine is compared.
    public let router: Router

    /// Creates a reconciler.
    public init(archive: Archive, router: Router) {
        self.archive = archive
        self.router = router
    }

    /// The channels with archived events whose timestamps fall in the window.
    public func archivedChannels(from start: Timestamp, to end: Timestamp) async throws -> [ChannelName] {
        let rows = try await archive.client.query(
            """
            SELECT DISTINCT channel FROM switchyard.archive
            WHERE "timestamp" BETWEEN \(start.description)::timestamptz AND \(end.description)::timestamptz ORDER BY channel
            """, logger: archive.logger)
        var channels: [ChannelName] = []
        for try await name in rows.decode(String.self) {
            if let channel = try? ChannelName(name) { channels.append(channel) }
        }
        return channels
    }

    /// Compares one channel's events with timestamps in `start...end` on both sides, by event id.
    /// - Throws: ``Switchyard/SwitchyardError`` from the engine, or a PostgreSQL error.
    public func compare(_ channel: ChannelName, from start: Timestamp, to end: Timestamp) async throws -> ChannelReport {
        let archived = try await archive.events(channel, from: start, to: end)
        let stored = try await router.replay(try ChannelPattern(channel.rawValue), since: .time(start), until: .time(end), limit: Int.max)
        let info = try await router.info(channel)
        let firstRetained = info.firstSequenceNumber ?? (info.lastSequenceNumber + 1)
        let storedIDs = Set(stored.map(\.eventID))
        let archivedIDs = Set(archived.map(\.eventID))
        var missing: [Envelope] = []
        var trimmed = 0
        for envelope in archived where !storedIDs.contains(envelope.eventID) {
            if envelope.sequenceNumber < firstRetained { trimmed += 1 } else { missing.append(envelope) }
        }
        return ChannelReport(
            channel: channel, missingInEngine: missing, missingInArchive: stored.filter { !archivedIDs.contains($0.eventID) },
            trimmed: trimmed, matched: archived.count - missing.count - trimmed)
    }

    /// Re-publishes the events the engine lacks, oldest first, under their own event ids, and
    /// updates their archive rows to the envelopes now stored (new sequence number and time; sealed
    /// fields sealed again and critical channels signed again by the router, which needs the
    /// encryption keys of any sealed field).
    ///
    /// An event that was lost with its dedup mark (a Redis failover, a lost AOF tail) publishes
    /// again as is. One removed by hand keeps its mark, which would make the re-publish a
    /// duplicate: `forget` removes those marks first (for Redis, `RedisEngine.forgetDedupMarks`).
    /// - Returns: The receipts; a `duplicate` one means the engine still had the event's mark and stored nothing.
    /// - Throws: ``Switchyard/SwitchyardError`` from the engine, or a PostgreSQL error.
    @discardableResult
    public func repair(
        _ report: ChannelReport, forget: @Sendable ([EventID], ChannelName) async throws -> Void = { _, _ in }
    ) async throws -> [PublishReceipt] {
        let missing = report.missingInEngine.sorted { $0.sequenceNumber < $1.sequenceNumber }
        guard !missing.isEmpty else { return [] }
        try await forget(missing.map(\.eventID), report.channel)
        // Sealed fields are opened (the router seals them again, and signs, as on any publish).
        var requests: [PublishRequest] = []
        for old in missing {
            let opened = try router.unseal(old)
            requests.append(PublishRequest(channel: opened.channel, payload: opened.data, metadata: opened.metadata, eventID: opened.eventID))
        }
        let stored = try await router.publishStoring(requests)
        for (receipt, envelope) in stored where !receipt.duplicate {
            try await archive.client.query(
                """
                UPDATE switchyard.archive SET sequence_number = \(envelope.sequenceNumber), stream_id = \(receipt.streamID.rawValue),
                    "timestamp" = \(envelope.timestamp.description)::timestamptz, source = \(envelope.source), envelope = \(envelope.encoded()),
                    payload = \(envelope.data.serialized())::jsonb, metadata = \(JSONValue.object(envelope.metadata).serialized())::jsonb
                WHERE event_id = \(envelope.eventID.description)::uuid
                """, logger: archive.logger)
        }
        return stored.map(\.receipt)
    }
}
