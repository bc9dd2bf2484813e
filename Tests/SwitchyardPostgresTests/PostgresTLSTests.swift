import Foundation
import Logging
import PostgresNIO
import RedisTestSupport
import Switchyard
import SwitchyardPostgres
import Testing

/// PostgreSQL over TLS with the server certificate `scripts/test` signs with its throwaway CA.
@Suite struct PostgresTLSTests {
    static let logger = Logger(label: "test.postgres.tls")

    @Test("verify-full with the test CA: the connection is encrypted and the migrations run over it", .needs(.postgres))
    func migrationsOverTLS() async throws {
        let url = try PostgresURL(try TestEnvironment.value("POSTGRES_TLS_URL"))
        #expect(url.sslMode == "verify-full" && url.sslRootCert != nil)
        #expect("\(url)".hasSuffix("?sslmode=verify-full"))
        try await TestDatabase.with(adminURL: url) { database in
            #expect(database.url.sslMode == "verify-full")
            try await TestDatabase.withAdmin(database.url, logger: Self.logger) { connection in
                let rows = try await connection.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", logger: Self.logger)
                var encrypted: [Bool] = []
                for try await ssl in rows.decode(Bool.self) { encrypted.append(ssl) }
                #expect(encrypted == [true])
                _ = try await Migrations.apply(connection: connection, logger: Self.logger)
                let tables = try await connection.query("SELECT count(*)::int FROM information_schema.tables WHERE table_schema = 'switchyard'", logger: Self.logger)
                for try await count in tables.decode(Int.self) { #expect(count > 0) }
            }
        }
    }

    @Test("a CA that did not sign the server's certificate fails the connection with a TLS error", .needs(.redis, .postgres))
    func wrongCA() async throws {
        let text = try TestEnvironment.value("POSTGRES_TLS_URL")
        let wrong = try TestEnvironment.value("TLS_WRONG_CA")
        let url = try PostgresURL(text.replacingOccurrences(of: try TestEnvironment.value("REDIS_TLS_CA"), with: wrong))
        #expect(url.sslRootCert == wrong)
        let error = await #expect(throws: (any Error).self) {
            try await TestDatabase.withAdmin(url, logger: Self.logger) { connection in
                _ = try await connection.query("SELECT 1", logger: Self.logger)
            }
        }
        let detail = String(reflecting: try #require(error))
        #expect(detail.contains("SSL") || detail.contains("TLS") || detail.contains("certificate") || detail.contains("handshake"), "\(detail)")
    }

    @Test("strict mode with a CA that did not sign the server's certificate stops with the reason instead of retrying", .needs(.redis, .postgres))
    func strictModeStopsOnAWrongCA() async throws {
        let text = try TestEnvironment.value("POSTGRES_TLS_URL")
        let url = try PostgresURL(text.replacingOccurrences(of: try TestEnvironment.value("REDIS_TLS_CA"), with: try TestEnvironment.value("TLS_WRONG_CA")))
        let router = Router(
            contracts: try ContractRegistry.shipped(), engine: EmbeddedEngine(logger: Self.logger),
            configuration: RouterConfiguration(source: "tls-tests"), logger: Self.logger)
        let strict = try StrictMode(url: url, router: router, logger: Self.logger)
        let stopped = try await withThrowingTaskGroup(of: SwitchyardError?.self) { group in
            group.addTask {
                do { try await strict.run() } catch let error as SwitchyardError { return error }
                return nil
            }
            group.addTask {
                // The deadline, raced against strict mode's run.
                try await Task.sleep(for: .seconds(60))
                return nil
            }
            defer { group.cancelAll() }
            return try await group.next() ?? nil
        }
        let error = try #require(stopped, "strict mode kept retrying a TLS handshake that cannot succeed")
        #expect(error.code == .engineUnavailable)
        #expect(error.message.contains("TLS handshake with PostgreSQL failed"), "\(error.message)")
        #expect(StrictMode.lastingFailure("PSQLError(code: connectionError, underlying: Connection refused (errno: 111))") == nil)
    }

    @Test("without sslmode, a server off this machine gets verify-full; loopback gets disable")
    func defaultModes() throws {
        #expect(try PostgresURL("postgres://app@db.internal:5432/trading").sslMode == "verify-full")
        #expect(try PostgresURL("postgres://app@10.0.0.7/trading").sslMode == "verify-full")
        #expect(try PostgresURL("postgres://app@127.0.0.1/trading").sslMode == "disable")
        #expect(try PostgresURL("postgres://app@127.0.0.53/trading").sslMode == "disable")
        #expect(try PostgresURL("postgres://app@localhost/trading").sslMode == "disable")
        #expect(try PostgresURL("postgres://app@[::1]/trading").sslMode == "disable")
        #expect(try PostgresURL("postgres://app@127.0.0.1.example.com/trading").sslMode == "verify-full")
        #expect(try PostgresURL("postgres://app@db.internal/trading?sslmode=prefer").sslMode == "prefer", "an explicit mode is kept")
        #expect(try PostgresURL("postgres://app@db.internal/trading").tlsConfiguration.minimumTLSVersion == .tlsv12)
    }

    @Test("an unknown sslmode is refused when the URL is read")
    func unknownMode() {
        #expect(throws: PostgresURLError.self) { _ = try PostgresURL("postgres://u@db/x?sslmode=verify-everything") }
    }
}
