import JSONSchema
import Logging
import PostgresNIO
import Switchyard
import Tracing

/// Emits events from inside PostgreSQL transactions: the caller's writes and the outbox rows
/// commit together, and the ``Relay`` publishes them only after the commit.
///
/// ``commit(_:emitting:file:line:)`` sends a whole business transaction in one round trip:
///
/// ```swift
/// let outbox = Outbox(client: postgres, contracts: contracts, logger: logger)
/// try await outbox.commit(
///     ["INSERT INTO fills (id, qty) VALUES (\(fillID), \(qty))"],
///     emitting: [OutboxEvent(to: try ChannelName("trades:order_filled"), payload: fill)])
/// ```
///
/// ``withTransaction(isolation:_:)`` opens a transaction for code that must read between its
/// writes, at the cost of a round trip for `BEGIN`, each statement, each event and `COMMIT`:
///
/// ```swift
/// try await outbox.withTransaction { tx in
///     try await tx.connection.query("INSERT INTO fills (id, qty) VALUES (\(fillID), \(qty))", logger: logger)
///     try await tx.emit(to: try ChannelName("trades:order_filled"), payload: fill)
/// }
/// ```
public struct Outbox: Sendable {
    /// The pool transactions run on.
    public let client: PostgresClient
    /// The checks an emitted payload must pass.
    public let payloadGuard: PayloadGuard
    let logger: Logger

    /// Creates an outbox; connects to nothing until used.
    /// - Parameters:
    ///   - client: The PostgreSQL pool (run by the caller).
    ///   - contracts: The contracts payloads are checked against.
    ///   - allowsUnknownChannels: Accept channels no contract covers.
    ///   - logger: The caller's logger.
    public init(client: PostgresClient, contracts: ContractRegistry, allowsUnknownChannels: Bool = false, logger: Logger) {
        self.client = client
        self.payloadGuard = PayloadGuard(registry: contracts, allowsUnknownChannels: allowsUnknownChannels)
        self.logger = logger
    }

    /// Runs `body` in one transaction and commits it when `body` returns; rolls it back, and
    /// rethrows `body`'s error unchanged, when `body` throws.
    /// - Returns: What `body` returns.
    /// - Throws: `body`'s error (a ``SwitchyardError`` from ``OutboxTransaction/emit(to:payload:metadata:eventID:source:)``
    ///   for a refused payload), or the PostgreSQL error of `BEGIN` or `COMMIT`.
    @discardableResult
    public func withTransaction<Result: Sendable>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: (OutboxTransaction) async throws -> Result
    ) async throws -> Result {
        try await client.withConnection(isolation: isolation) { connection in
            try await Self.withTransaction(on: connection, payloadGuard: payloadGuard, logger: logger, isolation: isolation, body)
        }
    }

    /// Runs `body` in one transaction on a connection the caller holds, as ``withTransaction(_:)`` does.
    @discardableResult
    public static func withTransaction<Result: Sendable>(
        on connection: PostgresConnection, payloadGuard: PayloadGuard, logger: Logger,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (OutboxTransaction) async throws -> Result
    ) async throws -> Result {
        try await connection.query("BEGIN", logger: logger)
        let result: Result
        do {
            result = try await body(OutboxTransaction(connection: connection, payloadGuard: payloadGuard, logger: logger))
        } catch {
            _ = try? await connection.query("ROLLBACK", logger: logger)
            throw error
        }
        try await connection.query("COMMIT", logger: logger)
        return result
    }
}

/// An open transaction: run the caller's own statements on ``connection`` and emit events with
/// ``emit(to:payload:metadata:eventID:source:)``; both commit or roll back together.
public struct OutboxTransaction: Sendable {
    /// The connection the transaction runs on; use it for the caller's own statements.
    public let connection: PostgresConnection
    let payloadGuard: PayloadGuard
    let logger: Logger

    /// Checks the payload against its channel's contract at once and adds an outbox row.
    /// - Parameters:
    ///   - channel: The channel.
    ///   - payload: A JSON object satisfying the channel's contract.
    ///   - metadata: Trace context, session, user. Without a `traceparent`, the task's current
    ///   trace context (the caller's span, when a tracer is bootstrapped) is written into it, so the
    ///   relay's and the consumers' spans continue the caller's trace.
    ///   - eventID: The event id; a new UUIDv7 when `nil`.
    ///   - source: The envelope `source` (and the rate limit's key); the relay's router's
    ///     ``Switchyard/RouterConfiguration/source`` when `nil`.
    /// - Returns: The event id, under which the relay publishes it and the archive keeps it.
    /// - Throws: ``SwitchyardError`` (`unknown_channel`, `payload_too_large`, `validation_error`,
    ///   for the payload or the metadata) before anything is written: thrown out of the transaction's body, it rolls the transaction
    ///   back. A PostgreSQL error when the insert fails.
    @discardableResult
    public func emit(
        to channel: ChannelName, payload: JSONValue, metadata: JSONObject = [:], eventID: EventID? = nil, source: String? = nil
    ) async throws -> EventID {
        let row = try OutboxRow(
            OutboxEvent(to: channel, payload: payload, metadata: metadata, eventID: eventID, source: source), checkedBy: payloadGuard)
        try await connection.query(
            """
            INSERT INTO switchyard.outbox (event_id, channel, payload, metadata, source)
            VALUES (\(row.eventID.description)::uuid, \(row.channel), \(row.payload)::jsonb, \(row.metadata)::jsonb, \(row.source))
            """, logger: logger)
        return row.eventID
    }
}
