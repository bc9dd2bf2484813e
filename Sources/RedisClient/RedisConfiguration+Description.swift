extension RedisConfiguration: CustomStringConvertible, CustomDebugStringConvertible {
    /// The server as a URL without its password: `rediss://user:***@host:port/db`. Safe to log.
    public var description: String {
        var text = tls.isEnabled ? "rediss://" : "redis://"
        if let username {
            text += password == nil ? "\(username)@" : "\(username):***@"
        } else if password != nil {
            text += ":***@"
        }
        text += host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        if database != 0 { text += "/\(database)" }
        return text
    }

    /// The same as ``description``: the password never appears, even in `debugPrint` or `dump`-like output.
    public var debugDescription: String { description }
}
