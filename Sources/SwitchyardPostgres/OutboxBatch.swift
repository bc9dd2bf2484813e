import Logging
import PostgresNIO
import Switchyard

/// One business transaction as the single statement ``Outbox/commit(_:emitting:file:line:)`` sends: the
/// outbox rows alone as one `INSERT` with bound parameters, or the caller's statements and the
/// rows as one `DO` block. A single statement outside `BEGIN` is a transaction of its own, so
/// either form commits whole or not at all, in one round trip.
struct OutboxBatch {
    /// What to send: nothing, the rows alone, or a `DO` block.
    enum Statement {
        case none
        case insert(Insert)
        case block(PostgresQuery)
    }

    let statement: Statement
    /// The line of the `DO` block's body each part starts on, with the caller's statement index
    /// (`nil` for the outbox insert), for errors.
    let starts: [(line: Int, statement: Int?)]

    /// The dollar-quote tag the `DO` body is wrapped in, made longer until the body does not contain it.
    static let tag = "switchyard"

    /// Builds the statement.
    /// - Throws: ``Switchyard/SwitchyardError`` (`validation_error`) for a statement holding a value
    ///   that cannot be a literal, or for transaction control.
    init(statements: [OutboxStatement], rows: [OutboxRow]) throws {
        if statements.isEmpty {
            self.statement = rows.isEmpty ? .none : .insert(Insert(rows: rows))
            self.starts = []
            return
        }
        var body = "#variable_conflict use_column\nBEGIN\n"
        var line = 3
        var starts: [(line: Int, statement: Int?)] = []
        for (index, statement) in statements.enumerated() {
            if let problem = statement.problem {
                throw SwitchyardError(.validationError, "outbox statement \(index): \(problem)", details: ["index": .int(Int64(index))])
            }
            let scanned = SQLStatementScanner.scan(statement.sql)
            if let keyword = scanned.transactionControl {
                throw SwitchyardError(
                    .validationError, "outbox statement \(index) holds \(keyword): the statements are one transaction",
                    details: ["index": .int(Int64(index))])
            }
            guard !scanned.text.isEmpty else { continue }
            starts.append((line, index))
            body += scanned.text
            body += ";\n"
            line += scanned.text.utf8.count { $0 == UInt8(ascii: "\n") } + 1
        }
        if !rows.isEmpty {
            starts.append((line, nil))
            body += "INSERT INTO switchyard.outbox (event_id, channel, payload, metadata, source) VALUES\n"
            for (index, row) in rows.enumerated() {
                body += index == 0 ? "(" : ",\n("
                body += row.eventID.sqlLiteral.text!
                body += ", "
                body += row.channel.sqlLiteral.text!
                body += ", "
                // Checked JSON from a Swift string: neither can hold NUL (JSON escapes it), so both are valid literals.
                body += SQLLiteral.typed(row.payload, as: "jsonb").text!
                body += ", "
                body += SQLLiteral.typed(row.metadata, as: "jsonb").text!
                body += ", "
                body += (row.source?.sqlLiteral ?? .null).text ?? "NULL"
                body += ")"
            }
            body += ";\n"
        }
        body += "END\n"
        var tag = Self.tag
        while Self.contains(body, "$" + tag) { tag += "_" }
        self.statement = .block(PostgresQuery(unsafeSQL: "DO $\(tag)$\(body)$\(tag)$"))
        self.starts = starts
    }

    /// The rows alone: one `INSERT … SELECT FROM unnest(…)` with one array parameter per column,
    /// which keeps the rows in order (their identity ids rise in that order); a prepared statement,
    /// parsed once per connection.
    struct Insert: PostgresPreparedStatement {
        static let sql = """
            INSERT INTO switchyard.outbox (event_id, channel, payload, metadata, source)
            SELECT e::uuid, c, p::jsonb, m::jsonb, NULLIF(s, '')
            FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS u(e, c, p, m, s)
            """
        typealias Row = ()

        var rows: [OutboxRow]

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 5)
            bindings.append(rows.map(\.eventID.description))
            bindings.append(rows.map(\.channel))
            bindings.append(rows.map(\.payload))
            bindings.append(rows.map(\.metadata))
            // An empty source is the same as none (docs/postgres.md).
            bindings.append(rows.map { $0.source ?? "" })
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row {}
    }

    /// Sends the statement on `connection`.
    func run(on connection: PostgresConnection, logger: Logger) async throws {
        switch statement {
        case .none: return
        case .insert(let insert): _ = try await connection.execute(insert, logger: logger)
        case .block(let query): try await connection.query(query, logger: logger)
        }
    }

    /// The error to throw for a failed send, naming the caller's statement that failed when
    /// PostgreSQL's error context points into one.
    func commitError(_ error: any Error, file: String, line: Int) -> OutboxCommitError {
        let serverInfo = (error as? PSQLError)?.serverInfo
        var index: Int?
        if let context = serverInfo?[.locationContext], let failedLine = Self.blockLine(in: context) {
            index = starts.last { $0.line <= failedLine }?.statement
        }
        return OutboxCommitError(statementIndex: index, sqlState: serverInfo?[.sqlState], underlying: error, file: file, line: line)
    }

    /// Whether `text` contains `part`, byte for byte.
    static func contains(_ text: String, _ part: String) -> Bool {
        let haystack = Array(text.utf8), needle = Array(part.utf8)
        guard let first = needle.first, haystack.count >= needle.count else { return false }
        var index = 0
        while index + needle.count <= haystack.count {
            if haystack[index] == first, haystack[index..<(index + needle.count)].elementsEqual(needle) { return true }
            index += 1
        }
        return false
    }

    /// `N` from the context line `PL/pgSQL function inline_code_block line N at …`.
    static func blockLine(in context: String) -> Int? {
        guard let marker = context.range(of: "inline_code_block line ") else { return nil }
        return Int(context[marker.upperBound...].prefix { $0.isASCII && $0.isNumber })
    }
}
