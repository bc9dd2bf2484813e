import Foundation
import NIOSSL
import PostgresNIO

/// A PostgreSQL URL, `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|prefer|require]`,
/// read into the configurations postgres-nio takes.
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
    /// Whether TLS is used: `disable` (the default for loopback hosts), `prefer` or `require`.
    public var sslMode: String

    /// Reads a URL.
    /// - Throws: ``PostgresURLError`` when the text is not a `postgres://` or `postgresql://` URL with a host.
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
        let isLoopback = host == "127.0.0.1" || host == "localhost" || host == "::1"
        self.sslMode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? (isLoopback ? "disable" : "prefer")
    }

    /// The URL without its password.
    public var description: String {
        "postgres://\(username)@\(host):\(port)/\(database ?? "")"
    }

    private var tls: PostgresClient.Configuration.TLS {
        switch sslMode {
        case "disable": .disable
        case "require", "verify-ca", "verify-full": .require(.makeClientConfiguration())
        default: .prefer(.makeClientConfiguration())
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
        case "require", "verify-ca", "verify-full": connectionTLS = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        default: connectionTLS = .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
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
