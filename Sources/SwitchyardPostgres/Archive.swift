import Logging
import PostgresNIO
import Switchyard

/// The event log in PostgreSQL: every event the relay published, as the envelope Redis holds,
/// kept after Redis's retention has trimmed it.
public struct Archive: Sendable {
    /// The pool reads run on.
    public let client: PostgresClient
    let logger: Logger

    /// Creates an archive reader; connects to nothing until used.
    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// A channel's archived events between two bounds (both inclusive), by sequence number, at most `limit`.
    /// - Throws: A PostgreSQL error, or ``Switchyard/SwitchyardError`` when a stored envelope cannot be read.
    public func events(
        _ channel: ChannelName, since: ReplayBound = .beginning, until: ReplayBound? = nil, limit: Int = 10_000
    ) async throws -> [Envelope] {
        let (fromSequence, fromTime) = Self.lower(since)
        let (toSequence, toTime) = Self.upper(until)
        let rows = try await client.query(
            """
            SELECT envelope FROM switchyard.archive
            WHERE channel = \(channel.rawValue)
              AND sequence_number BETWEEN \(fromSequence) AND \(toSequence)
              AND "timestamp" BETWEEN \(fromTime)::timestamptz AND \(toTime)::timestamptz
            ORDER BY sequence_number
            LIMIT \(limit)
            """, logger: logger)
        var envelopes: [Envelope] = []
        for try await text in rows.decode(String.self) {
            envelopes.append(try Envelope(decoding: text))
        }
        return envelopes
    }

    /// The archived events of a channel whose timestamps fall in a window, as the archive holds them.
    public func events(_ channel: ChannelName, from start: Timestamp, to end: Timestamp, limit: Int = 1_000_000) async throws -> [Envelope] {
        try await events(channel, since: .time(start), until: .time(end), limit: limit)
    }

    static func lower(_ bound: ReplayBound) -> (Int64, String) {
        switch bound {
        case .beginning: (Int64.min, "-infinity")
        case .sequence(let number): (number, "-infinity")
        case .time(let time): (Int64.min, time.description)
        }
    }

    static func upper(_ bound: ReplayBound?) -> (Int64, String) {
        switch bound {
        case nil, .beginning?: (Int64.max, "infinity")
        case .sequence(let number)?: (number, "infinity")
        case .time(let time)?: (Int64.max, time.description)
        }
    }
}
