import RedisClient
import Switchyard

extension SwitchyardError.Code {
    /// Redis is unreachable, the spool is full or off, and the publish was refused (nothing stored).
    public static let spoolFull = SwitchyardError.Code("spool_full")
    /// Redis refused the engine's ACL user: a command, key or channel it may not use (`NOPERM`, or a
    /// script's command refused by the ACL), or credentials it does not accept (`WRONGPASS`).
    /// Nothing was stored, and the publish is never spooled: retrying cannot succeed.
    public static let permissionDenied = SwitchyardError.Code("permission_denied")
}

extension SwitchyardError {
    /// Turns any error of the Redis client into a ``SwitchyardError``; `NOGROUP` becomes
    /// `group_not_found`, an ACL refusal `permission_denied`.
    static func redis(_ error: any Error, _ operation: String, file: String = #fileID, line: Int = #line) -> SwitchyardError {
        if let error = error as? SwitchyardError { return error }
        guard let error = error as? RedisError else {
            return SwitchyardError(.engineUnavailable, "\(operation) failed: \(type(of: error))", file: file, line: line)
        }
        if error.serverErrorPrefix == "NOGROUP" {
            return SwitchyardError(.groupNotFound, "\(operation): the consumer group does not exist on the channel", file: file, line: line)
        }
        if let refusal = error.aclRefusal {
            return SwitchyardError(
                .permissionDenied, "\(operation): Redis refused the engine's ACL user (\(refusal)); nothing was stored",
                details: ["redis_error": .string(error.code.description), "acl": .string(refusal)], file: file, line: line)
        }
        return SwitchyardError(
            .engineUnavailable, "\(operation) failed: \(error)",
            details: ["redis_error": .string(error.code.description)], file: file, line: line)
    }
}

extension RedisError {
    /// Whether the error says the server could not be reached (as opposed to a refusal by a reachable server).
    var meansUnreachable: Bool {
        if aclRefusal != nil { return false }
        return switch code {
        case .connectionFailed, .connectionClosed, .timeout, .poolTimeout, .clientShutdown: true
        // READONLY: the primary was demoted by a failover; the connection closes and the next one
        // reaches the new primary.
        default: serverErrorPrefix == "LOADING" || serverErrorPrefix == "READONLY"
        }
    }

    /// What the ACL refused, when this is an ACL refusal: `NOPERM` for a command, key or channel
    /// (also from inside a script, which Redis 7.0 reports as `ERR The user executing the script
    /// can't …`), `WRONGPASS`/`NOAUTH` for the credentials; `nil` for any other error.
    var aclRefusal: String? {
        if let found = (self.underlying as? RedisError)?.aclRefusal { return found }
        if code == .authenticationFailed { return "the credentials were refused (\(serverErrorPrefix ?? "WRONGPASS"))" }
        let message = serverMessage ?? ""
        if serverErrorPrefix == "NOPERM" {
            if message.contains("key") { return "NOPERM: a key it may not access" }
            if message.contains("channel") { return "NOPERM: a channel it may not use" }
            return "NOPERM: a command it may not run"
        }
        if serverErrorPrefix == "ERR", message.contains("The user executing the script can't") {
            if message.contains("keys") { return "NOPERM in a script: a key it may not access" }
            if message.contains("channel") { return "NOPERM in a script: a channel it may not publish to" }
            return "NOPERM in a script: a command it may not run"
        }
        if serverErrorPrefix == "WRONGPASS" || serverErrorPrefix == "NOAUTH" { return "the credentials were refused (\(serverErrorPrefix!))" }
        return nil
    }
}
