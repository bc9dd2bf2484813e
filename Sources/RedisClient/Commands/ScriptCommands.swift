import NIOCore
import RESP

/// `EVALSHA sha numkeys key... arg...`: the script's reply.
///
/// ``RedisClient/run(_:keys:arguments:)`` wraps it and reloads the script on `NOSCRIPT`.
public struct EVALSHA: RedisCommand {
    /// The command's reply type.
    public typealias Response = RESPValue
    /// The script's SHA-1.
    public var sha: String
    /// The keys the script touches (`KEYS`).
    public var keys: [String]
    /// The other arguments (`ARGV`).
    public var arguments: [ByteBuffer]

    /// Creates the command.
    public init(sha: String, keys: [String] = [], arguments: [ByteBuffer] = []) {
        self.sha = sha
        self.keys = keys
        self.arguments = arguments
    }

    /// Writes the command.
    public func encode(into encoder: inout RESPCommandEncoder) {
        encoder.encode("EVALSHA", self.sha, self.keys.count, self.keys, self.arguments)
    }
}

/// `SCRIPT ...` commands.
public enum SCRIPT {
    /// `SCRIPT LOAD source`: the script's SHA-1.
    public struct LOAD: RedisCommand {
        /// The command's reply type.
        public typealias Response = String
        /// The Lua source.
        public var source: String
        /// Creates the command.
        public init(_ source: String) { self.source = source }
        /// Writes `SCRIPT LOAD source`.
        public func encode(into encoder: inout RESPCommandEncoder) { encoder.encode("SCRIPT", "LOAD", self.source) }
    }
}
