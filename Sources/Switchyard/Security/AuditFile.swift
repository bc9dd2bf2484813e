import Foundation
import JSONSchema

/// The audit trail as an append-only file of JSON lines, one ``AuditRecord`` per line.
///
/// The file is opened for appending only (`O_APPEND`, created with mode 0600), each batch is one
/// write followed by an fsync, and nothing ever rewrites or truncates it: rotate it with a tool
/// that moves it aside (the next batch creates a new file). A line torn by a crash mid-write is
/// skipped when the file is read.
public actor AuditFile: AuditSink {
    /// The file.
    public let path: String
    private var descriptor: Int32 = -1

    /// An audit file at `path`; created on the first append.
    public init(path: String) {
        self.path = path
    }

    public func append(_ records: [AuditRecord]) async throws {
        guard !records.isEmpty else { return }
        var bytes: [UInt8] = []
        for record in records {
            record.jsonValue.write(into: &bytes)
            bytes.append(UInt8(ascii: "\n"))
        }
        if descriptor < 0 {
            descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else { throw SwitchyardError(.auditUnavailable, "cannot open the audit file \(path) (errno \(errno))") }
        }
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                let code = errno
                close(descriptor)
                descriptor = -1
                throw SwitchyardError(.auditUnavailable, "writing the audit file \(path) failed (errno \(code))")
            }
            written += count
        }
        guard fsync(descriptor) == 0 else { throw SwitchyardError(.auditUnavailable, "fsync of the audit file \(path) failed (errno \(errno))") }
    }

    public func records(matching query: AuditQuery) async throws -> [AuditRecord] {
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SwitchyardError(.auditUnavailable, "cannot read the audit file \(path)")
        }
        var found: [AuditRecord] = []
        for line in data.split(separator: UInt8(ascii: "\n")) where found.count < query.limit {
            guard let value = try? JSONValue(parsing: line), let record = AuditRecord(json: value), query.matches(record) else { continue }
            found.append(record)
        }
        return found
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }
}

extension SwitchyardError.Code {
    /// The audit trail cannot be written or read (its file or database is unavailable).
    public static let auditUnavailable = SwitchyardError.Code("audit_unavailable")
}
