import Foundation
import JSONSchema
import Logging
import PostgresNIO
import RedisTestSupport
import Switchyard
import SwitchyardPostgres
import Testing

@Suite("PostgreSQL: relay processes and outages", .needs(.redis, .postgres))
struct RelayProcessTests {
    /// Starts `switchyard relay` on the test database.
    static func startRelay(_ db: TestDatabase, batchSize: Int) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: PackageRoot.binary)
        process.arguments = [
            "relay", "--postgres", "postgres://\(db.url.username)@\(db.url.host):\(db.url.port)/\(db.name)",
            "--redis", try TestEnvironment.value("REDIS_URL"), "--batch-size", String(batchSize), "--allow-unknown-channels",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    @Test("relay processes killed with SIGKILL mid-run lose nothing and duplicate nothing")
    func sigkill() async throws {
        #expect(FileManager.default.isExecutableFile(atPath: PackageRoot.binary), "build the switchyard binary first")
        try await TestDatabase.with { db in
            let channel = try ChannelName("kill:\(db.prefix)")
            let total = 1500
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for chunk in 0..<15 {
                        try await db.client.query(PostgresQuery(unsafeSQL: """
                            INSERT INTO switchyard.outbox (channel, payload)
                            SELECT '\(channel.rawValue)', jsonb_build_object('n', g) FROM generate_series(\(chunk * 100 + 1), \(chunk * 100 + 100)) g
                            """))
                        // Paces the inserts, so they land while relays come and go.
                        try await Task.sleep(for: .milliseconds(50))
                    }
                }
                for round in 0..<6 {
                    let process = try Self.startRelay(db, batchSize: 20 + round * 7)
                    // The relay is killed at a random point of its work.
                    try await Task.sleep(for: .milliseconds(Int.random(in: 300...900)))
                    kill(process.processIdentifier, SIGKILL)
                    try await blocking { process.waitUntilExit() }
                }
                try await group.waitForAll()
            }
            let last = try Self.startRelay(db, batchSize: 100)
            let drained = try await eventually(timeout: .seconds(120)) {
                try await db.count("SELECT count(*)::int8 FROM switchyard.outbox") == 0
            }
            kill(last.processIdentifier, SIGKILL)
            try await blocking { last.waitUntilExit() }
            #expect(drained)
            let stored = try await db.stored(channel)
            #expect(stored.count == total)
            #expect(stored.map { $0.data["n"]?.integer ?? -1 } == (1...Int64(total)).map { $0 })
            expectGapFreeAndUnique(stored)
            #expect(try await db.count("SELECT count(*)::int8 FROM switchyard.archive") == total)
        }
    }

    @Test("the relay resumes after its PostgreSQL server restarts", .timeLimit(.minutes(5)))
    func postgresRestart() async throws {
        let server = try await blocking { try PrivatePostgres.start() }
        defer { server.stop() }
        try await TestDatabase.with(adminURL: server.url) { db in
            let channel = db.channel("restart")
            try await db.running(try db.relay()) {
                for n in 1...50 { try await db.outbox.withTransaction { tx in try await tx.emit(to: channel, payload: ["n": .int(Int64(n))]) } }
                #expect(try await eventually(timeout: .seconds(60)) { try await db.stored(channel).count == 50 })
                try await blocking { try server.restart() }
                let reconnected = try await eventually(timeout: .seconds(60)) { () async throws -> Bool in
                    do {
                        _ = try await db.outbox.withTransaction { tx in try await tx.emit(to: channel, payload: ["n": 51]) }
                        return true
                    } catch { return false }
                }
                #expect(reconnected, "the pool reconnects")
                for n in 52...100 { try await db.outbox.withTransaction { tx in try await tx.emit(to: channel, payload: ["n": .int(Int64(n))]) } }
                #expect(try await eventually(timeout: .seconds(60)) { try await db.stored(channel).count == 100 })
            }
            let stored = try await db.stored(channel)
            #expect(stored.map { $0.data["n"]?.integer ?? -1 } == (1...100).map { Int64($0) })
            expectGapFreeAndUnique(stored)
        }
    }
    @Test("a relay cancelled while its query waits returns at once, and a stalled query is given up after the query timeout", .timeLimit(.minutes(3)))
    func stalledQuery() async throws {
        try await TestDatabase.with { db in
            let channel = db.channel("stall")
            for n in 1...3 { try await db.outbox.withTransaction { tx in try await tx.emit(to: channel, payload: ["n": .int(Int64(n))]) } }
            func sessions(_ condition: String) async throws -> Int {
                try await db.count("SELECT count(*)::int8 FROM pg_stat_activity WHERE datname = current_database() AND \(condition)")
            }
            let waitingOnLock = "wait_event_type = 'Lock' AND query LIKE '%FROM switchyard.outbox%'"
            try await TestDatabase.withAdmin(db.url, logger: db.logger) { locker in
                // The relay's read of the outbox waits on this lock for as long as the transaction stays open.
                try await locker.query("BEGIN", logger: db.logger)
                try await locker.query("LOCK TABLE switchyard.outbox IN ACCESS EXCLUSIVE MODE", logger: db.logger)

                let waiting = try db.relay()
                let first = Task { try await waiting.run() }
                #expect(try await eventually(timeout: .seconds(60)) { try await sessions(waitingOnLock) == 1 }, "the relay's read waits on the lock")
                first.cancel()
                // Returns while the lock is still held: the relay closes its connection when cancelled.
                _ = try? await first.value

                let stalled = try db.relay(Relay.Configuration(
                    pollInterval: .milliseconds(50), standbyInterval: .milliseconds(100), retryDelay: .milliseconds(100),
                    queryTimeout: .seconds(1), lockKey: 42))
                let second = Task { try await stalled.run() }
                // After the timeout the relay gives its waiting connection up and connects again; the
                // abandoned session still holds its leader lock, so the new connection stands by.
                let reconnected = try await eventually(timeout: .seconds(60)) {
                    let abandoned = try await sessions(waitingOnLock)
                    let standing = try await sessions("state = 'idle' AND query LIKE 'SELECT pg_try_advisory_lock%'")
                    return abandoned == 2 && standing >= 1
                }
                #expect(reconnected, "a new connection while the stalled one waits")
                second.cancel()
                _ = try? await second.value
                try await locker.query("COMMIT", logger: db.logger)
            }
            #expect(try await db.stored(channel).isEmpty, "nothing was published while the outbox was locked")
            let published = try await db.running(try db.relay()) { try await eventually(timeout: .seconds(60)) { try await db.stored(channel).count == 3 } }
            #expect(published, "a relay publishes once the lock is gone")
            let stored = try await db.stored(channel)
            #expect(stored.map { $0.data["n"]?.integer ?? -1 } == [1, 2, 3])
            expectGapFreeAndUnique(stored)
        }
    }
}

/// A PostgreSQL server of one test's own, made with initdb, so the test may restart it.
final class PrivatePostgres: Sendable {
    let directory: String
    let port: Int
    let bin: String
    let runAs: [String]
    var url: PostgresURL { try! PostgresURL("postgres://postgres@127.0.0.1:\(port)/postgres") }

    init(directory: String, port: Int, bin: String, runAs: [String]) {
        self.directory = directory
        self.port = port
        self.bin = bin
        self.runAs = runAs
    }

    static func start() throws -> PrivatePostgres {
        let candidates = ["/usr/lib/postgresql/15/bin"] + ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
            .sorted().reversed().map { "/usr/lib/postgresql/\($0)/bin" }
        guard let bin = candidates.first(where: { FileManager.default.isExecutableFile(atPath: "\($0)/pg_ctl") }) else {
            throw MissingEnvironment(name: "PostgreSQL's pg_ctl")
        }
        let base = ProcessInfo.processInfo.environment["SWITCHYARD_TEST_TMP"] ?? NSTemporaryDirectory()
        let directory = "\(base)/pg-private-\(UInt32.random(in: .min ... .max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let runAs = getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--"] : []
        if getuid() == 0 { try Self.shell(["/bin/chown", "postgres", directory], runAs: []) }
        let port = Int.random(in: 20000...29999)
        let server = PrivatePostgres(directory: directory, port: port, bin: bin, runAs: runAs)
        try shell(["\(bin)/initdb", "-D", "\(directory)/data", "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"], runAs: runAs)
        try server.startServer()
        return server
    }

    func startServer() throws {
        try Self.shell([
            "\(bin)/pg_ctl", "-D", "\(directory)/data", "-l", "\(directory)/data/server.log", "-w", "-o",
            "-p \(port) -c listen_addresses=127.0.0.1 -c unix_socket_directories=\(directory) -c fsync=off", "start",
        ], runAs: runAs)
    }

    /// Stops the server at once (as a crash would) and starts it again.
    func restart() throws {
        try Self.shell(["\(bin)/pg_ctl", "-D", "\(directory)/data", "-m", "immediate", "-w", "stop"], runAs: runAs)
        try startServer()
    }

    func stop() {
        try? Self.shell(["\(bin)/pg_ctl", "-D", "\(directory)/data", "-m", "immediate", "-w", "stop"], runAs: runAs)
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Runs a command through `/bin/sh` with its output in a file, waiting with `waitpid` (a
    /// server that daemonizes must not hold anything the wait depends on). The child gets
    /// standard input, output and error only: otherwise the server it starts would
    /// inherit every descriptor the test process has open without close-on-exec at that moment
    /// (the pipes of other tests' child processes among them), and hold them for as long as it runs.
    static func shell(_ arguments: [String], runAs: [String]) throws {
        let log = NSTemporaryDirectory() + "/pg-shell-\(UUID().uuidString).log"
        defer { try? FileManager.default.removeItem(atPath: log) }
        let command = (runAs + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        let words: [String] = ["/bin/sh", "-c", "\(command) > '\(log)' 2>&1 < /dev/null"]
        let argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // Every descriptor open now, above standard error (glibc skips one closed meanwhile).
        let open = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap { Int32($0) }
        for descriptor in open where descriptor > 2 { posix_spawn_file_actions_addclose(&actions, descriptor) }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/bin/sh", &actions, nil, argv, environ)
        guard spawned == 0 else { throw ShellError(description: "posix_spawn failed: \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        guard status == 0 else {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw ShellError(description: "\(arguments.joined(separator: " ")) failed (\(status)): \(text)")
        }
    }

    struct ShellError: Error, CustomStringConvertible { var description: String }
}
