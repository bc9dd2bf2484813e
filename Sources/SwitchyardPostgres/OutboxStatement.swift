import Switchyard

/// One SQL statement of a business transaction that ``Outbox/commit(_:emitting:file:line:)`` sends, with its
/// values written in as typed literals (``SQLLiteral``) rather than bound as parameters.
///
/// Write it as a `PostgresQuery` is written: the SQL is literal text, and every interpolated value
/// becomes a literal, never SQL, so `"\(name)"` holding `'); DROP TABLE t; --` is stored as
/// that text.
///
/// ```swift
/// let fill: OutboxStatement = "INSERT INTO fills (id, qty, note) VALUES (\(fillID), \(qty), \(note))"
/// ```
///
/// A statement runs for its effect: one that returns rows (`INSERT … RETURNING`, `WITH … SELECT`)
/// fails; one that starts with `SELECT` runs with its rows discarded (`SELECT pg_advisory_xact_lock(…)`).
/// Transaction control (`COMMIT`, `ROLLBACK`, `SAVEPOINT`) is refused, since the statements are one transaction.
public struct OutboxStatement: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringInterpolation {
    /// The SQL text with the literals written in.
    public let sql: String
    /// Why a value could not be written as a literal; the statement is refused when set.
    let problem: String?

    /// A statement from SQL text taken as it is, which must not carry values from outside.
    public init(unsafeSQL sql: String) {
        self.sql = sql
        self.problem = nil
    }

    /// A statement from a string literal: SQL written in the source, holding no values.
    public init(stringLiteral value: String) {
        self.init(unsafeSQL: value)
    }

    /// A statement from an interpolated string: each value becomes its ``SQLLiteral``.
    public init(stringInterpolation: StringInterpolation) {
        self.sql = stringInterpolation.sql
        self.problem = stringInterpolation.problem
    }

    /// The SQL text; it holds the statement's values, so it is not for logs.
    public var description: String { sql }

    /// Collects literal SQL text and interpolated values, each written as an ``SQLLiteral``.
    public struct StringInterpolation: StringInterpolationProtocol, Sendable {
        var sql = ""
        var problem: String?

        /// Starts an empty statement.
        public init(literalCapacity: Int, interpolationCount: Int) {
            sql.reserveCapacity(literalCapacity + interpolationCount * 16)
        }

        /// Appends SQL text as it is.
        public mutating func appendLiteral(_ literal: String) {
            sql += literal
        }

        /// Writes `value` as its typed literal.
        public mutating func appendInterpolation(_ value: some SQLLiteralRepresentable) {
            let literal = value.sqlLiteral
            if let text = literal.text {
                sql += text
            } else {
                problem = problem ?? literal.problem
                sql += "NULL"
            }
        }
    }
}
