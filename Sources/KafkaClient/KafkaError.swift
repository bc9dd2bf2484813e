import CRDKafka

/// An error from Kafka: librdkafka's, the broker's, or this layer's own.
///
/// `code` is librdkafka's error code: negative for the client's own errors (-185 timed out, -192 a
/// record's delivery timed out, -195 a broker connection failed), positive for the broker's (3 unknown
/// topic or partition), and below -10,000 for this layer's (``libraryUnavailable``, ``closed``,
/// ``invalidConfiguration``). The message never holds a record's key or value.
public struct KafkaError: Error, Sendable, CustomStringConvertible {
    /// The error code (see the type's description for its ranges).
    public let code: Int32
    /// What went wrong, in words.
    public let message: String

    /// An error with a code and a message.
    public init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }

    /// The message and the code.
    public var description: String { "\(self.message) (Kafka error \(self.code))" }

    /// No librdkafka 2.2.0 or newer could be loaded.
    public static let libraryUnavailable: Int32 = -10_001
    /// The producer, consumer or admin client was closed.
    public static let closed: Int32 = -10_002
    /// A setting, URL or argument was refused.
    public static let invalidConfiguration: Int32 = -10_003
    /// An operation did not finish in time (librdkafka's `_TIMED_OUT`).
    public static let timedOut: Int32 = -185
    /// A record was not acknowledged within `message.timeout.ms` (librdkafka's `_MSG_TIMED_OUT`).
    public static let messageTimedOut: Int32 = -192
    /// The topic or partition does not exist (the broker's `UNKNOWN_TOPIC_OR_PART`).
    public static let unknownTopicOrPartition: Int32 = 3
}

extension KafkaError {
    /// An error for a librdkafka code, with what was being done: "committing offsets: Local: Timed out".
    init(rdkafka code: Int32, _ action: String, detail: String? = nil) {
        var message = "\(action): \(String(cString: crdk_err2str(code)))"
        if let detail, !detail.isEmpty { message += " (\(detail))" }
        self.init(code: code, message: message)
    }

    static func closed(_ what: String) -> KafkaError {
        KafkaError(code: Self.closed, message: "the \(what) is closed")
    }
}
