import JSONSchema

extension SwitchyardError.Code {
    /// The consumer group does not exist on the channel.
    public static let groupNotFound = SwitchyardError.Code("group_not_found")
    /// The engine cannot be reached or failed; the publish was not stored.
    public static let engineUnavailable = SwitchyardError.Code("engine_unavailable")
    /// A handler threw an error that is not a ``SwitchyardError`` (a dead letter's reason).
    public static let handlerError = SwitchyardError.Code("handler_error")
    /// A group gave up on an event whose handler kept failing: the dead letter's `error`, in seed
    /// 000's shape, with the last `handler_error` (or other failure) in its `details`.
    public static let processingError = SwitchyardError.Code("processing_error")
    /// A stream position that the engine did not make.
    public static let invalidPosition = SwitchyardError.Code("invalid_position")
}

extension SwitchyardError {
    /// A `rate_limited` refusal that says when to try again.
    public static func rateLimited(
        channel: ChannelName, source: String, limit: ChannelPolicy.RateLimit, retryAfter: Duration,
        file: String = #fileID, line: Int = #line
    ) -> SwitchyardError {
        let milliseconds = max(1, Int64((retryAfter / .milliseconds(1)).rounded(.up)))
        return SwitchyardError(
            .rateLimited,
            "'\(source)' exceeded the rate limit of channel '\(channel)' (\(limit.perSecond)/s, burst \(limit.burst)); retry after \(milliseconds) ms",
            details: [
                "channel": .string(channel.rawValue), "source": .string(source),
                "per_second": .int(Int64(limit.perSecond)), "burst": .int(Int64(limit.burst)),
                "retry_after_ms": .int(milliseconds),
            ],
            file: file, line: line)
    }

    /// For a `rate_limited` error, how long to wait before publishing again.
    public var retryAfter: Duration? {
        guard code == .rateLimited, case .int(let milliseconds)? = details["retry_after_ms"] else { return nil }
        return .milliseconds(milliseconds)
    }

    /// The body a dead letter records for any error a handler threw.
    public static func reason(for error: any Error) -> JSONValue {
        if let error = error as? SwitchyardError { return error.body }
        return SwitchyardError(.handlerError, "the handler threw \(type(of: error))", details: ["error": .string(String(describing: error))]).body
    }
}
