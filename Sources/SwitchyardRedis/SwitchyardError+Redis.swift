import RedisClient
import Switchyard

extension SwitchyardError.Code {
    /// Redis is unreachable, the spool is full or off, and the publish was refused (nothing stored).
    public static let spoolFull = SwitchyardError.Code("spool_full")
}

extension SwitchyardError {
    /// Turns any error of the Redis client into a ``SwitchyardError``; `NOGROUP` becomes `group_not_found`.
    static func redis(_ error: any Error, _ operation: String, file: String = #fileID, line: Int = #line) -> SwitchyardError {
        if let error = error as? SwitchyardError { return error }
        guard let error = error as? RedisError else {
            return SwitchyardError(.engineUnavailable, "\(operation) failed: \(type(of: error))", file: file, line: line)
        }
        if error.serverErrorPrefix == "NOGROUP" {
            return SwitchyardError(.groupNotFound, "\(operation): the consumer group does not exist on the channel", file: file, line: line)
        }
        return SwitchyardError(
            .engineUnavailable, "\(operation) failed: \(error)",
            details: ["redis_error": .string(error.code.description)], file: file, line: line)
    }
}

extension RedisError {
    /// Whether the error says the server could not be reached (as opposed to a refusal by a reachable server).
    var meansUnreachable: Bool {
        switch code {
        case .connectionFailed, .connectionClosed, .timeout, .poolTimeout, .clientShutdown: true
        default: serverErrorPrefix == "LOADING"
        }
    }
}
