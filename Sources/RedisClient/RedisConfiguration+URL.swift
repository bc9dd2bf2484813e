import Foundation

extension RedisConfiguration {
    /// Creates a configuration from a `redis://`, `rediss://`, `redis+sentinel://` or
    /// `rediss+sentinel://` URL.
    ///
    /// - `redis://[[user]:password@]host[:port][/db]` connects to one server; `rediss://` turns TLS
    ///   on, trusting the system's roots unless `tls` is set afterwards. On a Redis Cluster node it
    ///   runs in cluster mode (see ``Cluster``). `redis://host:port,host:port` names more nodes, tried
    ///   in order when the first does not answer (``seeds``).
    /// - `redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/primary-name[/db]` asks the
    ///   Sentinels at those addresses (port 26379 by default) for the primary monitored as
    ///   `primary-name`, and follows it when they fail over. The user and password are the
    ///   primary's; the query items `sentinel_username` and `sentinel_password` give the
    ///   Sentinels' own. `rediss+sentinel://` uses TLS to the Sentinels and to the primary.
    ///
    /// User and password may be percent-encoded.
    ///
    /// - Throws: ``RedisError`` with ``RedisError/Code/invalidConfiguration`` for another scheme,
    ///   a missing host or primary name, a port or database that is not a number.
    public init(url string: String) throws {
        let scheme = string.prefix { $0 != ":" }.lowercased()
        if scheme == "redis+sentinel" || scheme == "rediss+sentinel" {
            try self.init(sentinelURL: string, tls: scheme == "rediss+sentinel")
            return
        }
        var string = string
        var seeds: [Endpoint] = []
        if let (first, rest) = try Self.splitHosts(string) {
            string = first
            seeds = rest
        }
        guard let components = URLComponents(string: string), let scheme = components.scheme?.lowercased(),
            scheme == "redis" || scheme == "rediss"
        else {
            throw RedisError(.invalidConfiguration, serverMessage: "expected a redis://, rediss://, redis+sentinel:// or rediss+sentinel:// URL")
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
            self.database = try Self.database(path)
        }
        if scheme == "rediss" {
            self.tls = .require(.makeClientConfiguration())
        }
        self.seeds = seeds
    }

    /// For `scheme://[userinfo@]h1:p1,h2:p2/...`: the URL with the first host only, and the others
    /// (port 6379 by default); `nil` for a URL with one host.
    private static func splitHosts(_ string: String) throws -> (String, [Endpoint])? {
        guard let schemeEnd = string.range(of: "://") else { return nil }
        let rest = string[schemeEnd.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" }
        let hostsStart = authority.lastIndex(of: "@").map { authority.index(after: $0) } ?? authority.startIndex
        let hosts = authority[hostsStart...]
        guard hosts.contains(",") else { return nil }
        let parts = hosts.split(separator: ",", omittingEmptySubsequences: false)
        guard parts.allSatisfy({ !$0.isEmpty }) else {
            throw RedisError(.invalidConfiguration, serverMessage: "the URL's host list has an empty entry")
        }
        let others = try parts.dropFirst().map { try Self.endpoint($0, defaultPort: 6379) }
        let first = String(string[..<hostsStart]) + parts[0] + String(rest[authority.endIndex...])
        return (first, others)
    }

    private init(sentinelURL string: String, tls: Bool) throws {
        guard let schemeEnd = string.range(of: "://") else {
            throw RedisError(.invalidConfiguration, serverMessage: "expected a redis+sentinel:// URL")
        }
        var rest = Substring(string[schemeEnd.upperBound...])
        var query: [URLQueryItem] = []
        if let mark = rest.firstIndex(of: "?") {
            query = URLComponents(string: "x:?" + rest[rest.index(after: mark)...])?.queryItems ?? []
            rest = rest[..<mark]
        }
        let authority = rest.prefix { $0 != "/" }
        let path = rest.dropFirst(authority.count).split(separator: "/", omittingEmptySubsequences: true)
        var hosts = authority
        var user: String?
        var password: String?
        if let at = authority.lastIndex(of: "@") {
            hosts = authority[authority.index(after: at)...]
            let userInfo = authority[..<at]
            let parts = userInfo.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            user = parts.first.flatMap { $0.removingPercentEncoding }.flatMap { $0.isEmpty ? nil : $0 }
            password = parts.count > 1 ? parts[1].removingPercentEncoding.flatMap { $0.isEmpty ? nil : $0 } : nil
        }
        let nodes = try hosts.split(separator: ",").map { try Self.endpoint($0, defaultPort: 26379) }
        guard !nodes.isEmpty else {
            throw RedisError(.invalidConfiguration, serverMessage: "the Sentinel URL names no Sentinel")
        }
        guard let name = path.first.flatMap({ $0.removingPercentEncoding }), !name.isEmpty else {
            throw RedisError(.invalidConfiguration, serverMessage: "the Sentinel URL has no primary name: redis+sentinel://HOST:PORT/NAME")
        }
        guard path.count <= 2 else {
            throw RedisError(.invalidConfiguration, serverMessage: "the Sentinel URL's path is /NAME or /NAME/DB")
        }
        self.init(host: nodes[0].host, port: 6379)
        self.username = user
        self.password = password
        if path.count == 2 { self.database = try Self.database(path[1]) }
        func item(_ name: String) -> String? { query.first { $0.name == name }?.value.flatMap { $0.isEmpty ? nil : $0 } }
        self.sentinel = Sentinel(nodes: nodes, primaryName: name, username: item("sentinel_username"), password: item("sentinel_password"))
        if tls { self.tls = .require(.makeClientConfiguration()) }
    }

    private static func database(_ text: Substring) throws -> Int {
        guard let database = Int(text), database >= 0 else {
            throw RedisError(.invalidConfiguration, serverMessage: "the URL's path is not a database number")
        }
        return database
    }

    /// `host`, `host:port`, `[v6]` or `[v6]:port`; `defaultPort` when none is given.
    private static func endpoint(_ text: Substring, defaultPort: Int) throws -> Endpoint {
        var host = text
        var port = defaultPort
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                throw RedisError(.invalidConfiguration, serverMessage: "an IPv6 address in the URL has no closing bracket")
            }
            host = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let number = Int(after.dropFirst()) else {
                    throw RedisError(.invalidConfiguration, serverMessage: "a port in the URL is not a number")
                }
                port = number
            }
        } else if let colon = text.lastIndex(of: ":") {
            host = text[..<colon]
            guard let number = Int(text[text.index(after: colon)...]) else {
                throw RedisError(.invalidConfiguration, serverMessage: "a port in the URL is not a number")
            }
            port = number
        }
        guard !host.isEmpty, (1...65535).contains(port) else {
            throw RedisError(.invalidConfiguration, serverMessage: "an address in the URL has no host or a port out of range")
        }
        return Endpoint(host: String(host), port: port)
    }
}
