import JSONSchema
import Logging
import PostgresNIO
import Switchyard
import Tracing

/// An event for ``Outbox/commit(_:emitting:file:line:)``: what ``OutboxTransaction/emit(to:payload:metadata:eventID:source:)`` takes.
public struct OutboxEvent: Sendable {
    /// The channel.
    public var channel: ChannelName
    /// A JSON object satisfying the channel's contract.
    public var payload: JSONValue
    /// Trace context, session, user; without a `traceparent`, the task's current trace context is written into it.
    public var metadata: JSONObject
    /// The event id; a new UUIDv7 when `nil`.
    public var eventID: EventID?
    /// The envelope `source`; the relay's router's ``Switchyard/RouterConfiguration/source`` when `nil`.
    public var source: String?

    /// Creates an event; every parameter is documented on its property.
    public init(to channel: ChannelName, payload: JSONValue, metadata: JSONObject = [:], eventID: EventID? = nil, source: String? = nil) {
        self.channel = channel
        self.payload = payload
        self.metadata = metadata
        self.eventID = eventID
        self.source = source
    }
}

/// ``Outbox/commit(_:emitting:file:line:)`` failed in PostgreSQL; when the server answered, nothing of the
/// transaction was committed.
public struct OutboxCommitError: Error, Sendable, CustomStringConvertible {
    /// The index, in the statements given, of the statement that failed; `nil` when the outbox
    /// insert failed, the commit itself did, or the server did not answer.
    public let statementIndex: Int?
    /// PostgreSQL's SQLSTATE (`23505` for a unique violation); `nil` when the server did not answer,
    /// in which case whether the transaction committed is not known.
    public let sqlState: String?
    /// The error from PostgresNIO, with the server's message (`String(reflecting:)` prints the SQL, values included).
    public let underlying: any Error
    /// Where the commit was called.
    public let file: String
    /// The line where the commit was called.
    public let line: Int

    /// What failed and whether the transaction was rolled back; never the SQL or its values.
    public var description: String {
        guard let sqlState else {
            return "the outbox transaction got no answer from PostgreSQL; it may or may not have committed"
        }
        let failed = statementIndex.map { "statement \($0)" } ?? "the outbox insert or the commit"
        return "the outbox transaction was rolled back: \(failed) failed with SQLSTATE \(sqlState)"
    }
}

/// An outbox row, checked and serialized, ready to insert.
struct OutboxRow {
    var eventID: EventID
    var channel: String
    var payload: String
    var metadata: String
    var source: String?

    /// Checks the event against its channel's contract (payload and metadata) and writes the
    /// current trace context into its metadata when it has none.
    /// - Throws: ``SwitchyardError`` (`unknown_channel`, `payload_too_large`, `validation_error`).
    init(_ event: OutboxEvent, checkedBy payloadGuard: PayloadGuard) throws {
        let checked = try payloadGuard.check(channel: event.channel, payload: event.payload)
        // A whole REC.IO message is kept whole, so the relay's publish reads its `timestamp` and
        // `metadata` as a direct publish does.
        var metadata = event.metadata
        if metadata[TraceContext.traceparentKey] == nil, let current = ServiceContext.current {
            metadata = TraceContext.inject(current, into: metadata)
        }
        try payloadGuard.checkMetadata(checked.metadata(merging: metadata), channel: event.channel, with: checked)
        self.eventID = event.eventID ?? EventID.generate()
        self.channel = event.channel.rawValue
        self.payload = checked.publishable.serialized()
        self.metadata = JSONValue.object(metadata).serialized()
        self.source = event.source
    }
}

extension Outbox {
    /// Commits the caller's statements and the events' outbox rows as one transaction, in one
    /// round trip to PostgreSQL.
    ///
    /// Every payload is checked against its contract first; a refused one throws before anything
    /// is sent. The statements run in order, each seeing the ones before, then the outbox rows are
    /// inserted, and all of it commits together or not at all: PostgreSQL receives one `DO` block
    /// (the statements run by PL/pgSQL, their values written in as ``SQLLiteral``s), or, without
    /// statements, one `INSERT` with bound parameters, and runs it as a transaction of its own.
    ///
    /// ```swift
    /// try await outbox.commit(
    ///     ["INSERT INTO fills (id, qty) VALUES (\(fillID), \(qty))"],
    ///     emitting: [OutboxEvent(to: filled, payload: fill)])
    /// ```
    /// - Parameters:
    ///   - statements: The business transaction's statements (``OutboxStatement``), run for their effects.
    ///   - events: The events to emit, in order.
    /// - Returns: The events' ids, in order.
    /// - Throws: ``SwitchyardError`` for a refused payload or metadata (`details.index` names the
    ///   event when there are several), a statement that holds a value PostgreSQL cannot take (a NUL
    ///   character) or transaction control; ``OutboxCommitError`` when PostgreSQL fails the
    ///   transaction, which is then rolled back whole.
    @discardableResult
    public func commit(
        _ statements: [OutboxStatement] = [], emitting events: [OutboxEvent], file: String = #fileID, line: Int = #line
    ) async throws -> [EventID] {
        let (batch, ids) = try prepare(statements, events)
        if case .none = batch.statement { return ids }
        do {
            try await client.withConnection { connection in
                try await batch.run(on: connection, logger: logger)
            }
        } catch {
            throw batch.commitError(error, file: file, line: line)
        }
        return ids
    }

    /// Commits as ``commit(_:emitting:file:line:)`` does, on a connection the caller holds (one
    /// that is not inside a transaction), which saves taking one from the pool each time.
    @discardableResult
    public func commit(
        _ statements: [OutboxStatement] = [], emitting events: [OutboxEvent], on connection: PostgresConnection,
        file: String = #fileID, line: Int = #line
    ) async throws -> [EventID] {
        let (batch, ids) = try prepare(statements, events)
        do {
            try await batch.run(on: connection, logger: logger)
        } catch {
            throw batch.commitError(error, file: file, line: line)
        }
        return ids
    }

    /// Checks every event and builds the statement; nothing is sent.
    private func prepare(_ statements: [OutboxStatement], _ events: [OutboxEvent]) throws -> (OutboxBatch, [EventID]) {
        let rows = try Self.rows(events, checkedBy: payloadGuard)
        return (try OutboxBatch(statements: statements, rows: rows), rows.map(\.eventID))
    }

    /// Checks every event, naming the failing one's index when there are several.
    static func rows(_ events: [OutboxEvent], checkedBy payloadGuard: PayloadGuard) throws -> [OutboxRow] {
        var rows: [OutboxRow] = []
        rows.reserveCapacity(events.count)
        for (index, event) in events.enumerated() {
            do {
                rows.append(try OutboxRow(event, checkedBy: payloadGuard))
            } catch let error as SwitchyardError where events.count > 1 {
                var details = error.details
                details["index"] = .int(Int64(index))
                throw SwitchyardError(error.code, error.message, details: details, file: error.file, line: error.line)
            }
        }
        return rows
    }
}
