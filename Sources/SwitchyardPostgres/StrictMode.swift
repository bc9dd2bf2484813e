import JSONSchema
import Logging
import PostgresNIO
import ServiceLifecycle
import Switchyard
import Synchronization

/// Everything a server needs for strict mode, as one `Service`: the PostgreSQL pool, the
/// migrations, the relay, and publishes that go through the outbox and answer with the receipt.
///
/// ``run()`` runs the pool, applies the migrations, then runs the relay. ``publish(_:)`` inserts
/// and commits outbox rows, then waits until they are published (by this process's relay, or by
/// whichever relay leads: it then finds them in the archive) and returns the receipts.
public final class StrictMode: Service {
    /// The PostgreSQL pool.
    public let client: PostgresClient
    /// The outbox publishes go through.
    public let outbox: Outbox
    /// The relay this process runs.
    public let relay: Relay
    /// How long ``publish(_:)`` waits for the relay before it gives up.
    public let publishTimeout: Duration
    let logger: Logger
    let migrated = Atomic<Bool>(false)
    /// The settings of one connection, for the check before the migrations.
    let connection: PostgresConnection.Configuration

    /// Creates strict mode for a router; connects to nothing until ``run()``.
    /// - Parameters:
    ///   - url: The PostgreSQL database.
    ///   - router: The router the relay publishes through; its contracts check the payloads.
    ///   - relayConfiguration: Batch size and polling.
    ///   - publishTimeout: How long a publish waits for the relay. Default 30 s.
    ///   - logger: The caller's logger.
    /// - Throws: An NIOSSL error when TLS is asked for and no TLS context can be made.
    public init(
        url: PostgresURL, router: Router, relayConfiguration: Relay.Configuration = Relay.Configuration(),
        publishTimeout: Duration = .seconds(30), logger: Logger
    ) throws {
        self.client = PostgresClient(configuration: url.clientConfiguration, backgroundLogger: logger)
        self.outbox = Outbox(
            client: client, contracts: router.contracts, allowsUnknownChannels: router.configuration.allowsUnknownChannels, logger: logger)
        let connection = try url.connectionConfiguration()
        self.connection = connection
        self.relay = Relay(postgres: connection, router: router, configuration: relayConfiguration, logger: logger)
        self.publishTimeout = publishTimeout
        self.logger = logger
    }

    /// Runs the pool, migrates, then relays, until cancelled or a graceful shutdown. Until the
    /// migrations have run it retries every second while PostgreSQL cannot be reached.
    /// - Throws: ``Switchyard/SwitchyardError`` `engine_unavailable` when the TLS handshake with
    ///   PostgreSQL fails (a CA that did not sign its certificate): settings that cannot work stop
    ///   the server instead of being retried.
    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await self.client.run() }
            try await cancelWhenGracefulShutdown {
                try await self.migrateWithRetry()
                try await self.relay.run()
            }
            group.cancelAll()
        }
    }

    private func migrateWithRetry() async throws {
        while true {
            do {
                // One connection of its own first: the pool keeps a failed connection's error to
                // itself and leaves the migration waiting, so a handshake that cannot succeed
                // would never surface.
                let probe = try await PostgresConnection.connect(
                    on: PostgresClient.defaultEventLoopGroup.any(), configuration: connection, id: Int.random(in: 1...Int.max), logger: logger
                ).get()
                try await probe.close()
                try await Migrations.apply(client: client, logger: logger)
                migrated.store(true, ordering: .releasing)
                return
            } catch {
                try Task.checkCancellation()
                let detail = Redaction.text(String(reflecting: error))
                if let reason = Self.lastingFailure(detail) {
                    logger.error("PostgreSQL cannot be used with these settings; not retrying", metadata: ["error": "\(detail)"])
                    throw SwitchyardError(.engineUnavailable, reason, details: ["engine": "postgres"])
                }
                logger.warning("migrations failed; retrying", metadata: ["error": "\(detail)"])
                try await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// Why a failed first connection will fail the same way however often it is tried, or `nil`
    /// for a failure worth retrying (PostgreSQL not up yet, a restart, a network fault). A TLS
    /// handshake that fails (a certificate the `sslrootcert` CA did not sign, a name that does not
    /// match) is lasting: retrying would hide a configuration error behind warnings.
    package static func lastingFailure(_ detail: String) -> String? {
        let tlsMarkers = ["NIOSSLError", "handshakeFailed", "CERTIFICATE_VERIFY_FAILED", "certificate verify failed", "unableToValidateCertificate"]
        if tlsMarkers.contains(where: detail.contains) {
            return "the TLS handshake with PostgreSQL failed: is sslrootcert the CA that signed the server's certificate, and does the URL's host match it (sslmode=verify-full)?"
        }
        return nil
    }

    /// Whether PostgreSQL answers (`SELECT 1`) within `timeout` and the schema is migrated.
    public func isReady(timeout: Duration = .seconds(2)) async -> Bool {
        guard migrated.load(ordering: .acquiring) else { return false }
        return await answers(within: timeout) { try await self.client.query("SELECT 1") }
    }

    /// What `GET /metrics` reports of strict mode: whether PostgreSQL answers, and how far the relay is behind.
    public struct Status: Sendable, Hashable {
        /// PostgreSQL answered `SELECT 1` in time.
        public var reachable: Bool
        /// Seconds since the oldest committed outbox row not yet relayed was written, 0 when the
        /// outbox is empty; `nil` when it could not be read (PostgreSQL away, schema not migrated).
        public var relayLagSeconds: Double?
    }

    /// Reads ``Status`` from PostgreSQL, each query given at most `timeout`.
    public func status(timeout: Duration = .seconds(2)) async -> Status {
        let reachable = await answers(within: timeout) { try await self.client.query("SELECT 1") }
        guard reachable, migrated.load(ordering: .acquiring) else { return Status(reachable: reachable, relayLagSeconds: nil) }
        let lag = Mutex<Double?>(nil)
        _ = await answers(within: timeout) {
            let rows = try await self.client.query(
                "SELECT COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - min(created_at)), 0)::float8 FROM switchyard.outbox")
            for try await seconds in rows.decode(Double.self) { lag.withLock { $0 = max(0, seconds) } }
        }
        return Status(reachable: true, relayLagSeconds: lag.withLock { $0 })
    }

    private func answers(within timeout: Duration, _ query: @escaping @Sendable () async throws -> Void) async -> Bool {
        await result(within: timeout) { (try? await query()) != nil } ?? false
    }

    /// Publishes through the outbox: checks every payload, inserts the rows and commits them in
    /// one transaction and one round trip (``Outbox/commit(_:emitting:file:line:)``), then waits until the relay has published them. A request whose event id
    /// is already archived answers with the archived receipt marked ``Switchyard/PublishReceipt/duplicate``.
    /// - Returns: One receipt per request, in order, as a direct publish returns them.
    /// - Throws: ``Switchyard/SwitchyardError``: the contract check's (nothing is written), or
    ///   `engine_unavailable` when PostgreSQL fails or the relay has not published within
    ///   ``publishTimeout`` (the rows are committed and will be published).
    public func publish(_ requests: [PublishRequest]) async throws -> [PublishReceipt] {
        if requests.allSatisfy({ $0.eventID != nil }) {
            // Event ids already archived are duplicates: answer with the first receipt, write nothing.
            var known: [PublishReceipt] = []
            for request in requests {
                guard let eventID = request.eventID, let receipt = try? await archived(eventID) else { break }
                known.append(receipt.markedDuplicate())
            }
            if known.count == requests.count { return known }
        }
        let ids: [EventID]
        do {
            ids = try await outbox.commit(emitting: requests.map {
                OutboxEvent(to: $0.channel, payload: $0.payload, metadata: $0.metadata, eventID: $0.eventID, source: $0.source)
            })
        } catch let error as SwitchyardError {
            throw error
        } catch {
            throw SwitchyardError(.engineUnavailable, "PostgreSQL refused the outbox insert: \(type(of: error))", details: ["engine": "postgres"])
        }
        var receipts: [PublishReceipt] = []
        for id in ids { receipts.append(try await receipt(for: id)) }
        return receipts
    }

    private func receipt(for eventID: EventID) async throws -> PublishReceipt {
        let deadline = ContinuousClock.now + publishTimeout
        while ContinuousClock.now < deadline {
            if let receipt = await relay.receipt(for: eventID, timeout: .milliseconds(50)) { return receipt }
            if let receipt = try? await archived(eventID) { return receipt }
        }
        throw SwitchyardError(
            .engineUnavailable, "the event is committed to the outbox but not yet published",
            details: ["event_id": .string(eventID.description), "engine": "postgres"])
    }

    private func archived(_ eventID: EventID) async throws -> PublishReceipt? {
        let rows = try await client.query(
            """
            SELECT channel, sequence_number, stream_id, envelope FROM switchyard.archive WHERE event_id = \(eventID.description)::uuid
            """)
        for try await (channel, sequence, streamID, envelope) in rows.decode((String, Int64, String, String).self) {
            let timestamp = try Envelope(decoding: envelope).timestamp
            return PublishReceipt(
                eventID: eventID, channel: try ChannelName(channel), sequenceNumber: sequence,
                streamID: StreamPosition(streamID), timestamp: timestamp, duplicate: false)
        }
        return nil
    }
}
