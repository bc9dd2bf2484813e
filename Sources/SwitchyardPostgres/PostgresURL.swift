import Foundation
import NIOSSL
import PostgresNIO

/// A PostgreSQL URL, `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=MODE&sslrootcert=FILE]`,
/// read into the configurations postgres-nio takes.
///
/// `sslmode` is `disable` (the default for loopback hosts: `localhost`, 127.0.0.0/8, `::1`),
/// `prefer` (TLS when the server offers it, else plain: a network attacker can strip it),
/// `require`, `verify-ca` or `verify-full` (the default for every other host). `require` and
/// `verify-full` verify the server's certificate chain and host name; `verify-ca` the chain only.
/// `sslrootcert` is a PEM file of the CA to trust instead of the system's roots. TLS is 1.2 or newer.
public struct PostgresURL: Sendable, CustomStringConvertible {
    /// The server's host name or address.
    public var host: String
    /// The server's port; default 5432.
    public var port: Int
    /// The user.
    public var username: String
    /// The password, when the URL has one.
    public var password: String?
    /// The database; `nil` for the user's default.
    public var database: String?
    /// Whether TLS is used: `disable` (the default for loopback hosts), `prefer`, `require`,
    /// `verify-ca` or `verify-full` (the default for other hosts).
    public var sslMode: String
    /// A PEM file of the CA that signed the server's certificate; `nil` trusts the system's roots.
    public var sslRootCert: String?

    /// The `sslmode` values this reads.
    public static let sslModes = ["disable", "prefer", "require", "verify-ca", "verify-full"]

    /// Reads a URL.
    /// - Throws: ``PostgresURLError`` when the text is not a `postgres://` or `postgresql://` URL with
    ///   a host, or `sslmode` is not one of ``sslModes``.
    public init(_ text: String) throws(PostgresURLError) {
        guard let components = URLComponents(string: text),
              components.scheme == "postgres" || components.scheme == "postgresql",
              let host = components.host, !host.isEmpty
        else { throw PostgresURLError(reason: "expected postgres://USER@HOST[:PORT]/DATABASE") }
        self.host = host
        self.port = components.port ?? 5432
        self.username = components.user.flatMap { $0.removingPercentEncoding } ?? "postgres"
        self.password = components.password.flatMap { $0.removingPercentEncoding }
        let path = components.path.drop { $0 == "/" }
        self.database = path.isEmpty ? nil : String(path)
        self.sslMode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? (Self.isLoopback(host) ? "disable" : "verify-full")
        guard Self.sslModes.contains(sslMode) else {
            throw PostgresURLError(reason: "sslmode must be one of \(Self.sslModes.joined(separator: ", ")), not '\(sslMode.prefix(20))'")
        }
        self.sslRootCert = components.queryItems?.first { $0.name == "sslrootcert" }?.value.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Whether `host` is a loopback name or address, where traffic never leaves the machine.
    static func isLoopback(_ host: String) -> Bool {
        let host = host.lowercased()
        if host == "localhost" || host == "::1" || host == "[::1]" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }

    /// The URL without its password: `postgres://user@host:port/db`, with `sslmode` when TLS is on.
    public var description: String {
        "postgres://\(username)@\(host):\(port)/\(database ?? "")" + (sslMode == "disable" ? "" : "?sslmode=\(sslMode)")
    }

    /// The client TLS settings of ``sslMode`` and ``sslRootCert``.
    public var tlsConfiguration: TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if let sslRootCert { configuration.trustRoots = .file(sslRootCert) }
        if sslMode == "verify-ca" { configuration.certificateVerification = .noHostnameVerification }
        return configuration
    }

    private var tls: PostgresClient.Configuration.TLS {
        switch sslMode {
        case "disable": .disable
        case "prefer": .prefer(tlsConfiguration)
        default: .require(tlsConfiguration)
        }
    }

    /// A pool configuration for this URL.
    public var clientConfiguration: PostgresClient.Configuration {
        PostgresClient.Configuration(host: host, port: port, username: username, password: password, database: database, tls: tls)
    }

    /// A single-connection configuration for this URL.
    /// - Throws: An NIOSSL error when TLS is asked for and no TLS context can be made.
    public func connectionConfiguration() throws -> PostgresConnection.Configuration {
        let connectionTLS: PostgresConnection.Configuration.TLS
        switch sslMode {
        case "disable": connectionTLS = .disable
        case "prefer": connectionTLS = .prefer(try NIOSSLContext(configuration: tlsConfiguration))
        default: connectionTLS = .require(try NIOSSLContext(configuration: tlsConfiguration))
        }
        return PostgresConnection.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: connectionTLS)
    }
}

/// A PostgreSQL URL that cannot be read.
public struct PostgresURLError: Error, Sendable, CustomStringConvertible {
    /// What is wrong with it.
    public var reason: String
    /// The reason, for people.
    public var description: String { "invalid PostgreSQL URL: \(reason)" }
}
