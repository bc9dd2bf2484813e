import Foundation
import JSONSchema
import Logging
import Metrics
import PostgresNIO
import ServiceLifecycle
import Switchyard

/// Publishes committed outbox rows through a ``Switchyard/Router``, in transaction order per
/// channel, then moves them to the archive; rows that fail their contract go to the quarantine.
///
/// A relay is a `Service`. It holds one connection of its own, on which it takes the leader lock
/// (`pg_try_advisory_lock`), so of several relays on one database exactly one publishes and the
/// others stand by until its session ends. It reads batches back to back while the outbox has
/// rows; once it has read them all it asks for a notification (``Migrations/relayWaitingLockKey``)
/// and sleeps until `NOTIFY switchyard_outbox` wakes it, for at most
/// ``Configuration/pollInterval``. Writers notify only while it waits, so their commits share
/// WAL flushes while it is busy.
///
/// Only rows whose transaction id (`xid8`) is below the oldest transaction still running
/// (`pg_snapshot_xmin(pg_current_snapshot())`) are taken, in `(xid, id)` order: every
/// transaction that could still add a row before them has finished, so a transaction that
/// commits late is never skipped and never published out of order (docs/postgres.md).
///
/// Each event is published with its outbox row's event id, so a relay that dies between
/// publishing and moving the rows re-publishes them after restart and the router's dedup stores
/// them once.
public final class Relay: Service {
    /// How the relay runs.
    public struct Configuration: Sendable {
        /// Rows taken per batch. Default 500.
        public var batchSize: Int
        /// The longest the relay sleeps without reading the outbox when no notification
        /// arrives (a fallback: notifications are lost across reconnects). Default 100 ms.
        public var pollInterval: Duration
        /// How often a standby relay tries to become the leader. Default 1 s.
        public var standbyInterval: Duration
        /// The wait before trying again after PostgreSQL or the router failed. Default 500 ms.
        /// Failed connections in a row double it, up to ``maximumRetryDelay``.
        public var retryDelay: Duration
        /// The longest wait between two connection attempts. Default 5 s.
        public var maximumRetryDelay: Duration
        /// The longest wait for a connection, login included (a server still starting up may
        /// accept and never answer). Default 5 s.
        public var connectTimeout: Duration
        /// The longest one PostgreSQL step of the relay may take (a query, a batch's transaction);
        /// past it the connection is closed and made again, so a server that stopped answering
        /// cannot hold the relay. Default 30 s.
        public var queryTimeout: Duration
        /// The leader lock's key; relays with the same key on one database exclude each other.
        public var lockKey: Int64

        /// Creates a configuration; every parameter has the default documented on its property.
        public init(
            batchSize: Int = 500, pollInterval: Duration = .milliseconds(100), standbyInterval: Duration = .seconds(1),
            retryDelay: Duration = .milliseconds(500), maximumRetryDelay: Duration = .seconds(5),
            connectTimeout: Duration = .seconds(5), queryTimeout: Duration = .seconds(30), lockKey: Int64 = 0x5377_5944_5245_4C59
        ) {
            self.batchSize = batchSize
            self.pollInterval = pollInterval
            self.standbyInterval = standbyInterval
            self.retryDelay = retryDelay
            self.maximumRetryDelay = maximumRetryDelay
            self.connectTimeout = connectTimeout
            self.queryTimeout = queryTimeout
            self.lockKey = lockKey
        }
    }

    /// Where the relay connects.
    public let postgres: PostgresConnection.Configuration
    /// The router events are published through.
    public let router: Router
    /// How the relay runs.
    public let configuration: Configuration
    let payloadGuard: PayloadGuard
    let logger: Logger
    let doorbell = Doorbell()
    let receipts = ReceiptBoard()
    let holder = Relay.holderName()
    let published = Counter(label: "switchyard_relay_published_total")
    let quarantined = Counter(label: "switchyard_relay_quarantined_total")

    /// Creates a relay; connects to nothing until ``run()``.
    /// - Parameters:
    ///   - postgres: The database with the `switchyard` schema (``Migrations``).
    ///   - router: Publishes the events; its contracts decide what is quarantined. Run it (or its
    ///     engine) alongside the relay, and give it a dedup window longer than any relay outage.
    ///   - configuration: Batch size, polling and retry settings.
    ///   - logger: The caller's logger.
    public init(postgres: PostgresConnection.Configuration, router: Router, configuration: Configuration = Configuration(), logger: Logger) {
        self.postgres = postgres
        self.router = router
        self.configuration = configuration
        self.payloadGuard = PayloadGuard(registry: router.contracts, allowsUnknownChannels: router.configuration.allowsUnknownChannels)
        self.logger = logger
    }

    /// The receipt of an event this relay publishes and archives within `timeout`, or `nil`
    /// (another relay may be the leader: look in the archive then).
    public func receipt(for eventID: EventID, timeout: Duration) async -> PublishReceipt? {
        await receipts.wait(for: eventID, timeout: timeout)
    }

    /// Relays until cancelled or a graceful shutdown; reconnects after PostgreSQL failures, waiting
    /// ``Configuration/retryDelay`` and doubling the wait, up to ``Configuration/maximumRetryDelay``,
    /// while connections keep failing.
    public func run() async throws {
        try await cancelWhenGracefulShutdown {
            var delay = self.configuration.retryDelay
            while !Task.isCancelled {
                do {
                    try await self.connectAndLead { delay = self.configuration.retryDelay }
                } catch {
                    if Task.isCancelled { return }
                    self.logger.warning("relay connection failed; retrying", metadata: [
                        "error": "\(Redaction.text(String(reflecting: error)))", "retry_in": "\(delay)",
                    ])
                    try? await Task.sleep(for: delay)
                    delay = min(delay * 2, max(self.configuration.maximumRetryDelay, self.configuration.retryDelay))
                }
            }
        }
    }

    /// Connects, then leads on the connection until it fails or the relay is cancelled. Every
    /// query on it is bounded (``RelayConnection``), so nothing here waits on PostgreSQL for ever.
    private func connectAndLead(connected: () -> Void) async throws {
        var postgres = self.postgres
        postgres.options.connectTimeout = TimeAmount(configuration.connectTimeout)
        let connection = try await PostgresConnection.connect(
            on: PostgresClient.defaultEventLoopGroup.any(), configuration: postgres,
            id: Int.random(in: 1...Int.max), logger: logger
        ).get()
        connected()
        defer { RelayConnection.closeNow(connection) }
        try await lead(on: RelayConnection(connection: connection, timeout: configuration.queryTimeout, logger: logger))
    }

    /// Waits for the leader lock, then listens and relays until cancelled or the connection fails.
    private func lead(on connection: RelayConnection) async throws {
        while true {
            let rows = try await connection.query("SELECT pg_try_advisory_lock(\(configuration.lockKey))")
            if try rows.first?.decode(Bool.self) == true { break }
            try await Task.sleep(for: configuration.standbyInterval)
        }
        logger.info("relay is the leader")
        // A listener callback rings the doorbell; nothing waits on a notification sequence, so a
        // connection that breaks (its server restarted) or a cancelled relay ends the loop at once.
        let listener = connection.connection.addListener(channel: "switchyard_outbox") { _, _ in self.doorbell.ring() }
        defer { listener.stop() }
        _ = try await connection.query("LISTEN switchyard_outbox")
        try await relayLoop(on: connection)
    }

    /// Reads and publishes batches back to back while the outbox has rows, and asks for a
    /// notification only once it has read fewer rows than a batch.
    ///
    /// Writers notify only while the relay holds the waiting lock
    /// (``Migrations/relayWaitingLockKey``). To sleep, the relay takes it
    /// (`pg_try_advisory_lock`), reads once more, and sleeps only if that read found nothing.
    /// A writer whose trigger found the lock free holds it shared until its transaction has
    /// ended, so taking the lock succeeds only when every writer that will not notify has
    /// committed or rolled back, and the read after it sees their rows; every writer after it
    /// notifies. While such a writer is still between its insert and the end of its commit,
    /// taking the lock fails and the relay reads again after a short pause (1 ms, doubling up to
    /// 100 ms or ``Configuration/pollInterval`` while nothing arrives). The same short pauses
    /// apply while committed rows wait behind an older transaction still running, whose end
    /// notifies nobody. Once it reads rows it lets go of the lock first, so writers stop
    /// notifying while it is busy. It never sleeps longer than ``Configuration/pollInterval``
    /// without reading.
    private func relayLoop(on connection: RelayConnection) async throws {
        let firstPause = min(Duration.milliseconds(1), configuration.pollInterval)
        let longestPause = min(Duration.milliseconds(100), configuration.pollInterval)
        var pause = firstPause
        /// Waits the short pause, and doubles it for the next time.
        func pauseBriefly() async {
            await doorbell.wait(timeout: pause)
            pause = min(pause * 2, longestPause)
        }
        var waiting = false
        var drained = false
        while !Task.isCancelled {
            if drained && !waiting {
                if try await startWaiting(on: connection) {
                    waiting = true
                } else {
                    await pauseBriefly()
                }
            }
            let batch = try await readBatch(on: connection)
            if batch.isEmpty {
                drained = true
                guard waiting else { continue }
                if try await rowsHeldBack(on: connection) {
                    await pauseBriefly()
                } else {
                    await doorbell.wait(timeout: configuration.pollInterval)
                }
                continue
            }
            pause = firstPause
            if waiting {
                try await stopWaiting(on: connection)
                waiting = false
            }
            switch try await relay(batch, on: connection) {
            case .full: drained = false
            case .drained: drained = true
            case .routerFailed:
                drained = false
                try await Task.sleep(for: configuration.retryDelay)
            }
        }
    }

    /// Takes the waiting lock, after which writers notify; `false` while a writer that found it
    /// free has not finished its transaction (or another relay holds it).
    private func startWaiting(on connection: RelayConnection) async throws -> Bool {
        let rows = try await connection.query("SELECT pg_try_advisory_lock(\(Migrations.relayWaitingLockKey))")
        return try rows.first?.decode(Bool.self) == true
    }

    /// Whether the outbox holds committed rows the last read could not take yet: they wait
    /// behind an older transaction still running (on any database of the server), whose end
    /// notifies nobody. Asked after that read, so it sees at least the rows that read saw.
    private func rowsHeldBack(on connection: RelayConnection) async throws -> Bool {
        let rows = try await connection.query("SELECT EXISTS (SELECT 1 FROM switchyard.outbox)")
        return try rows.first?.decode(Bool.self) == true
    }

    /// Lets go of the waiting lock; writers stop notifying.
    private func stopWaiting(on connection: RelayConnection) async throws {
        try await connection.query("SELECT pg_advisory_unlock(\(Migrations.relayWaitingLockKey))")
    }

    /// `HOST:PID`, from `gethostname` (`ProcessInfo.hostName` resolves names, which can block for seconds).
    static func holderName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        let host = gethostname(&buffer, buffer.count - 1) == 0 ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "unknown"
        return "\(host):\(ProcessInfo.processInfo.processIdentifier)"
    }
}
