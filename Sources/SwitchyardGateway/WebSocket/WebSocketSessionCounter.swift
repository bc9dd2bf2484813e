import NIOCore
import Synchronization

/// The open `/v1/ws` sessions of each caller, for ``WebSocketConfiguration/maxSessionsPerPrincipal``.
///
/// A caller is its principal's subject; anonymous callers have no identity of their own, so they
/// are counted per peer IP address (behind a reverse proxy, every anonymous client counts as the
/// proxy).
final class WebSocketSessionCounter: Sendable {
    private let open = Mutex<[String: Int]>([:])

    /// Who a session counts against: `subject:SUBJECT` for a principal, `address:IP` for anonymous
    /// access. The prefixes keep the two apart: no token subject can name an address's count.
    static func caller(_ principal: Principal?, remoteAddress: SocketAddress?) -> String {
        if let principal, !principal.isAnonymous { return "subject:" + principal.subject }
        return "address:" + (remoteAddress?.ipAddress ?? "unknown")
    }

    /// Counts one more session of `caller` unless it already has `limit` open.
    /// - Returns: Whether the session may open; when it does, ``release(_:)`` must follow.
    func reserve(_ caller: String, limit: Int) -> Bool {
        open.withLock { open in
            let count = open[caller, default: 0]
            guard count < limit else { return false }
            open[caller] = count + 1
            return true
        }
    }

    /// A session of `caller` ended.
    func release(_ caller: String) {
        open.withLock { open in
            let count = open[caller, default: 1] - 1
            open[caller] = count > 0 ? count : nil
        }
    }
}
