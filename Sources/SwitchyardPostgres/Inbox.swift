import Logging
import PostgresNIO
import Switchyard

/// Exactly-once effects for consumers: the handler's writes and the inbox row
/// (`consumer_group`, `event_id`) commit in one transaction, and an event already recorded for
/// the group is skipped.
///
/// ```swift
/// let inbox = Inbox(client: postgres, logger: logger)
/// try await router.consume(group: "ledger", patterns: [fills], inbox: inbox) { envelope, connection in
///     try await connection.query("UPDATE positions SET qty = qty + \(qty) WHERE id = \(id)", logger: logger)
/// }
/// ```
public struct Inbox: Sendable {
    /// The pool transactions run on.
    public let client: PostgresClient
    let logger: Logger

    /// Creates an inbox; connects to nothing until used.
    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Runs `handler` in a transaction that also records the event for the group, unless the
    /// group has already processed it.
    ///
    /// Two deliveries of one event at once are serialized by the inbox's primary key: the second
    /// waits for the first to commit, then skips.
    /// - Parameters:
    ///   - envelope: The event delivered.
    ///   - group: The consumer group.
    ///   - handler: The effects, run on the transaction's connection.
    /// - Returns: `true` when the handler ran and committed, `false` when the event was skipped.
    /// - Throws: The handler's error (the transaction is rolled back, so a redelivery runs it
    ///   again) or a PostgreSQL error.
    @discardableResult
    public func process(
        _ envelope: Envelope, group: String, isolation: isolated (any Actor)? = #isolation,
        handler: (Envelope, PostgresConnection) async throws -> Void
    ) async throws -> Bool {
        try await client.withConnection(isolation: isolation) { connection in
            try await connection.query("BEGIN", logger: logger)
            do {
                let rows = try await connection.query(
                    """
                    INSERT INTO switchyard.inbox (consumer_group, event_id, channel, sequence_number)
                    VALUES (\(group), \(envelope.eventID.description)::uuid, \(envelope.channel.rawValue), \(envelope.sequenceNumber))
                    ON CONFLICT DO NOTHING RETURNING 1
                    """, logger: logger)
                var fresh = false
                for try await _ in rows.decode(Int.self) { fresh = true }
                guard fresh else {
                    try await connection.query("ROLLBACK", logger: logger)
                    return false
                }
                try await handler(envelope, connection)
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
            try await connection.query("COMMIT", logger: logger)
            return true
        }
    }
}

extension Router {
    /// Consumes as a member of a group, as ``Switchyard/Router/consume(group:patterns:consumer:options:handler:)``
    /// does, with each event's effects and its inbox row committed in one PostgreSQL transaction:
    /// a redelivered event already processed is skipped and acked, so effects happen exactly once.
    /// - Parameters:
    ///   - group: The group's name; also the inbox's `consumer_group`.
    ///   - patterns: The channels, as names or globs.
    ///   - consumer: This consumer's name within the group.
    ///   - options: Batching, retries, timeouts.
    ///   - inbox: The inbox.
    ///   - handler: The effects, run on the transaction's connection; throwing rolls them back and retries.
    public func consume(
        group: String, patterns: [ChannelPattern], consumer: String? = nil, options: ConsumerOptions = ConsumerOptions(),
        inbox: Inbox, handler: @escaping @Sendable (Envelope, PostgresConnection) async throws -> Void
    ) async throws {
        try await consume(group: group, patterns: patterns, consumer: consumer, options: options) { envelope in
            try await inbox.process(envelope, group: group, handler: handler)
        }
    }
}
