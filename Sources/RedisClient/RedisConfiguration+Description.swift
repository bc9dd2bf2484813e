extension RedisConfiguration: CustomStringConvertible, CustomDebugStringConvertible {
    /// The server as a URL without its password: `rediss://user:***@host:port/db`, or
    /// `redis+sentinel://user:***@sentinel:port,.../primary-name/db` under Sentinel. Safe to log.
    public var description: String {
        var text = tls.isEnabled ? "rediss" : "redis"
        text += sentinel == nil ? "://" : "+sentinel://"
        if let username {
            text += password == nil ? "\(username)@" : "\(username):***@"
        } else if password != nil {
            text += ":***@"
        }
        if let sentinel {
            text += sentinel.nodes.map(\.description).joined(separator: ",") + "/\(sentinel.primaryName)"
        } else {
            text += ([Endpoint(host: host, port: port)] + seeds).map(\.description).joined(separator: ",")
        }
        if database != 0 { text += "/\(database)" }
        return text
    }

    /// The same as ``description``: the password never appears, even in `debugPrint` or `dump`-like output.
    public var debugDescription: String { description }
}
