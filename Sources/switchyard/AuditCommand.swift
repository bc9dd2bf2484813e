import ArgumentParser
import Foundation
import JSONSchema
import Logging
import PostgresNIO
import Switchyard
import SwitchyardPostgres
import SwitchyardServer

/// `switchyard audit`: queries the audit trail, in PostgreSQL (`switchyard.audit`) or in an audit file.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Query the audit trail: publishes, refusals, dead letters, requeues and drops.",
        discussion: """
            Reads the audit file given with --file (or SWITCHYARD_AUDIT_FILE), or the switchyard.audit \
            table of the PostgreSQL database given with --postgres (or POSTGRES_URL); flags win over the \
            environment, and POSTGRES_URL over SWITCHYARD_AUDIT_FILE, as in `switchyard serve`. One line per \
            record, oldest first: time, action, who, channel, sequence number, event id, reason; with \
            --json, one record per line (JSON Lines). Exit codes: 0 ok (also when nothing matches), \
            1 the trail cannot be read, 64 usage.
            """)

    @Option(help: ArgumentHelp("An audit file (JSON lines) written by `switchyard serve --audit-file`.", valueName: "FILE"))
    var file: String?
    @Option(help: ArgumentHelp("A PostgreSQL URL whose switchyard.audit table to read.", valueName: "URL"))
    var postgres: String?
    @Option(help: ArgumentHelp("A JSON config file (default: SWITCHYARD_CONFIG); its postgres and audit_file apply. See docs/configuration.md.", valueName: "FILE"))
    var config: String?
    @Option(help: ArgumentHelp("Records of channels matching this name or glob (trades:*).", valueName: "CHANNEL_OR_PATTERN"))
    var channel: String?
    @Option(help: ArgumentHelp("Records of this actor: a service (the envelope source) or a token's subject.", valueName: "NAME"))
    var who: String?
    @Option(name: .customLong("event-id"), help: ArgumentHelp("Records of this event.", valueName: "UUID"))
    var eventID: String?
    @Option(help: ArgumentHelp("Records at or after this RFC 3339 time, or this long ago (90s, 15m, 1h, 2d).", valueName: "TIME|DURATION"))
    var since: String?
    @Option(help: ArgumentHelp("Records at or before this RFC 3339 time.", valueName: "TIME"))
    var until: String?
    @Option(help: ArgumentHelp("Only this action (publish, refuse, dead_letter, requeue, drop); repeat for several.", valueName: "ACTION"))
    var action: [String] = []
    @Option(help: "The most records printed (default 1000).")
    var limit: Int = 1000
    @Flag(help: "Print whole records, one JSON object per line.")
    var json = false

    func validate() throws {
        if file != nil && postgres != nil { throw ValidationError("give --file or --postgres, not both") }
        if limit < 1 { throw ValidationError("--limit must be at least 1") }
        _ = try query(now: Timestamp.now())
    }

    /// The query the options describe.
    func query(now: Timestamp) throws -> AuditQuery {
        var query = AuditQuery(limit: limit)
        if let channel {
            do { query.channel = try ChannelPattern(channel) } catch { throw ValidationError("--channel: \(error.message)") }
        }
        query.who = who
        if let eventID {
            guard let id = EventID(eventID) else { throw ValidationError("--event-id must be a UUID") }
            query.eventID = id
        }
        if let since {
            if let time = Timestamp(rfc3339: since) {
                query.since = time
            } else if let seconds = DurationText.seconds(since) {
                query.since = Timestamp(unixMilliseconds: now.unixMilliseconds - Int64(seconds) * 1000)
            } else {
                throw ValidationError("--since must be an RFC 3339 time or a duration such as 15m")
            }
        }
        if let until {
            guard let time = Timestamp(rfc3339: until) else { throw ValidationError("--until must be an RFC 3339 time") }
            query.until = time
        }
        for name in action {
            guard let known = AuditRecord.Action.all.first(where: { $0.rawValue == name }) else {
                throw ValidationError("--action must be one of \(AuditRecord.Action.all.map(\.rawValue).joined(separator: ", ")), not '\(name)'")
            }
            query.actions.append(known)
        }
        return query
    }

    func run() async throws {
        let settings = try GlobalOptions(config: config).settings(ServerSettings(postgres: postgres, auditFile: file))
        let postgresURL = settings.postgres.flatMap { $0.isEmpty ? nil : $0 }
        let query = try self.query(now: Timestamp.now())
        var logger = Logger(label: "switchyard")
        logger.logLevel = .warning
        let records: [AuditRecord]
        do {
            if let path = file ?? (postgres == nil && postgresURL == nil ? settings.auditFile : nil) {
                records = try await AuditFile(path: path).records(matching: query)
            } else if let text = postgresURL {
                let url: PostgresURL
                do { url = try PostgresURL(text) } catch { throw ValidationError("--postgres: \(error)") }
                records = try await Self.read(url, query, logger: logger)
            } else {
                throw ValidationError("give --file FILE or --postgres URL (or set SWITCHYARD_AUDIT_FILE or POSTGRES_URL)")
            }
        } catch let error as ValidationError {
            throw error
        } catch {
            printError("the audit trail cannot be read: \(Redaction.text(String(describing: error)))")
            throw ExitCode(1)
        }
        for record in records {
            if json {
                print(record.jsonValue.serialized())
            } else {
                let fields = [
                    record.at.description, record.action.rawValue, record.who, record.channel ?? "-",
                    record.sequenceNumber.map(String.init) ?? "-", record.eventID?.description ?? "-", record.reason ?? "-",
                ]
                print(fields.joined(separator: "\t"))
            }
        }
    }

    /// Reads the records from `switchyard.audit`, on a pool run for the duration of the query.
    static func read(_ url: PostgresURL, _ query: AuditQuery, logger: Logger) async throws -> [AuditRecord] {
        let client = PostgresClient(configuration: url.clientConfiguration, backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: [AuditRecord]?.self) { group in
            group.addTask {
                await client.run()
                return nil
            }
            group.addTask {
                do {
                    return try await PostgresAuditSink(client: client, logger: logger).records(matching: query)
                } catch {
                    throw AuditReadError(
                        reason: "\(Redaction.text(String(reflecting: error))); is the schema migrated (`switchyard migrate`)?")
                }
            }
            defer { group.cancelAll() }
            while let result = try await group.next() {
                if let records = result { return records }
            }
            return []
        }
    }
}

struct AuditReadError: Error, CustomStringConvertible {
    let reason: String
    var description: String { reason }
}
