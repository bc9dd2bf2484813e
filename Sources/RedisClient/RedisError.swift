import NIOCore
import RESP

/// An error from the Redis client: a failed connection, a timeout, or an error reply from the server.
///
/// Its ``description`` names the code, the server's error prefix (such as `NOPERM`) and where it was
/// thrown; it never prints credentials, keys or payloads. The server's full message is in
/// ``serverMessage`` for callers that decide to log it.
public struct RedisError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case connectionFailed, connectionClosed, timeout, protocolError, serverError
            case authenticationFailed, unexpectedResponse, poolTimeout, clientShutdown
            case invalidConfiguration, tlsFailure, subscriptionOverflow, transactionAborted, alreadyRunning
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The connection could not be opened (refused, unreachable, connect timeout).
        public static let connectionFailed = Code(.connectionFailed)
        /// The connection closed while the command was in flight; it may or may not have run.
        public static let connectionClosed = Code(.connectionClosed)
        /// No reply came within the command timeout; the connection was closed.
        public static let timeout = Code(.timeout)
        /// The server sent bytes that are not RESP; the connection was closed.
        public static let protocolError = Code(.protocolError)
        /// The server replied with an error; ``RedisError/serverErrorPrefix`` holds its prefix.
        public static let serverError = Code(.serverError)
        /// The server refused the credentials (`WRONGPASS`, `NOAUTH`) during the handshake.
        public static let authenticationFailed = Code(.authenticationFailed)
        /// The reply did not have the shape the command expects.
        public static let unexpectedResponse = Code(.unexpectedResponse)
        /// No pooled connection became free within the pool's acquire timeout.
        public static let poolTimeout = Code(.poolTimeout)
        /// The client was shut down.
        public static let clientShutdown = Code(.clientShutdown)
        /// The configuration or URL is invalid.
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// The TLS setup failed (unreadable certificate or key).
        public static let tlsFailure = Code(.tlsFailure)
        /// A subscription's buffer overflowed and its policy is to end the subscription.
        public static let subscriptionOverflow = Code(.subscriptionOverflow)
        /// `EXEC` returned null: a watched key changed, or a queued command was rejected.
        public static let transactionAborted = Code(.transactionAborted)
        /// `run()` was called on a client that is running or has run: a client runs once.
        public static let alreadyRunning = Code(.alreadyRunning)

        /// The code's name.
        public var description: String { self.base.rawValue }
    }

    /// The kind of failure.
    public var code: Code
    /// The first word of a server error reply, such as `NOPERM`, `WRONGTYPE` or `NOSCRIPT`.
    public var serverErrorPrefix: String?
    /// The full server error message. It may quote keys or arguments: log it with care.
    public var serverMessage: String?
    /// The error that caused this one, if any.
    public var underlying: (any Error)?
    /// The file that threw the error.
    public var file: String
    /// The line that threw the error.
    public var line: Int

    /// Creates an error.
    public init(
        _ code: Code,
        serverMessage: String? = nil,
        underlying: (any Error)? = nil,
        file: String = #fileID,
        line: Int = #line
    ) {
        self.code = code
        self.serverMessage = serverMessage
        let isServerReply = code == .serverError || code == .authenticationFailed
        self.serverErrorPrefix = serverMessage.flatMap { isServerReply ? $0 : nil }.flatMap { $0.split(separator: " ", maxSplits: 1).first.map(String.init) }
        self.underlying = underlying
        self.file = file
        self.line = line
    }

    /// Whether the caller may retry: the connection failed or dropped, so the command may not have
    /// run, but it may also have run. The client never retries on its own.
    public var isRetryable: Bool {
        self.code == .connectionFailed || self.code == .connectionClosed || self.code == .timeout
            || self.code == .poolTimeout || self.serverErrorPrefix == "LOADING" || self.serverErrorPrefix == "BUSY"
            || self.serverErrorPrefix == "TRYAGAIN" || self.serverErrorPrefix == "READONLY"
    }

    /// Whether a cluster node did not run the command because of where its slot is or how the
    /// cluster is: `MOVED`, `ASK`, `TRYAGAIN` or `CLUSTERDOWN`. It is safe to run it again (through
    /// ``RedisClient``, which finds the right node).
    public var isClusterRedirection: Bool {
        switch self.serverErrorPrefix {
        case "MOVED", "ASK", "TRYAGAIN", "CLUSTERDOWN": true
        default: false
        }
    }

    /// The code, the server prefix (a server's message may quote keys, so only its first word),
    /// the client's own explanation (such as why no Sentinel named a primary), and the place it
    /// was thrown; never credentials or payloads.
    public var description: String {
        var text = "RedisError(\(self.code)"
        if let prefix = self.serverErrorPrefix { text += ", server: \(prefix)" }
        if self.code != .serverError, self.code != .authenticationFailed, self.code != .transactionAborted, let message = self.serverMessage {
            text += ", \(message)"
        }
        if let underlying = self.underlying {
            if let protocolError = underlying as? RESPProtocolError {
                text += ", underlying: \(protocolError)"
            } else {
                text += ", underlying: \(type(of: underlying))"
            }
        }
        return text + ", at: \(self.file):\(self.line))"
    }
}

extension RedisError {
    static func unexpected(_ value: RESPValue, expected: String, file: String = #fileID, line: Int = #line) -> RedisError {
        RedisError(.unexpectedResponse, serverMessage: "expected \(expected)", file: file, line: line)
    }
}
