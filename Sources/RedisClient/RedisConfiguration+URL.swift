import Foundation

extension RedisConfiguration {
    /// Creates a configuration from a `redis://` or `rediss://` URL.
    ///
    /// The form is `redis://[[user]:password@]host[:port][/db]`; `rediss://` turns TLS on, trusting
    /// the system's roots unless `tls` is set afterwards. User and password may be percent-encoded.
    ///
    /// - Throws: ``RedisError`` with ``RedisError/Code/invalidConfiguration`` for another scheme,
    ///   a missing host, or a database that is not a number.
    public init(url string: String) throws {
        guard let components = URLComponents(string: string), let scheme = components.scheme?.lowercased(),
            scheme == "redis" || scheme == "rediss"
        else {
            throw RedisError(.invalidConfiguration, serverMessage: "expected a redis:// or rediss:// URL")
        }
        guard let host = components.host, !host.isEmpty else {
            throw RedisError(.invalidConfiguration, serverMessage: "the URL has no host")
        }
        self.init(host: host, port: components.port ?? 6379)
        if let user = components.percentEncodedUser?.removingPercentEncoding, !user.isEmpty {
            self.username = user
        }
        if let password = components.percentEncodedPassword?.removingPercentEncoding, !password.isEmpty {
            self.password = password
        }
        let path = components.path.drop(while: { $0 == "/" })
        if !path.isEmpty {
            guard let database = Int(path), database >= 0 else {
                throw RedisError(.invalidConfiguration, serverMessage: "the URL's path is not a database number")
            }
            self.database = database
        }
        if scheme == "rediss" {
            self.tls = .require(.makeClientConfiguration())
        }
    }
}
