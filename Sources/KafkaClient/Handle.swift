import CRDKafka

/// A librdkafka client handle (`rd_kafka_t`) and the context its callbacks write.
///
/// librdkafka documents its handles as safe to use from any thread, which is what makes this
/// `Sendable`; each owner makes sure no call reaches a handle after ``destroy()``.
struct Handle: @unchecked Sendable {
    let pointer: OpaquePointer
    let context: OpaquePointer

    /// Loads librdkafka if needed and makes a producer (`CRDK_PRODUCER`) or consumer handle from
    /// `settings`, applied in order.
    init(type: Int32, settings: [(String, String)], libraryPath: String?) throws(KafkaError) {
        try KafkaLibrary.load(path: libraryPath)
        guard let conf = crdk_conf_new(), let context = crdk_context_new() else {
            throw KafkaError(code: KafkaError.invalidConfiguration, message: "librdkafka could not allocate a configuration")
        }
        for (name, value) in settings {
            let (status, reason) = withErrorBuffer { crdk_conf_set(conf, name, value, $0, $1) }
            if status != CRDK_CONF_OK {
                crdk_conf_destroy(conf)
                crdk_context_free(context)
                throw KafkaError(code: KafkaError.invalidConfiguration, message: "librdkafka refused the setting \(name): \(reason)")
            }
        }
        crdk_conf_use_context(conf, context, type == CRDK_PRODUCER ? 1 : 0)
        let (handle, reason) = withErrorBuffer { crdk_new(type, conf, $0, $1) }
        guard let handle else {
            crdk_conf_destroy(conf)  // rd_kafka_new takes the configuration only when it succeeds
            crdk_context_free(context)
            throw KafkaError(code: KafkaError.invalidConfiguration, message: "librdkafka could not make a client: \(reason)")
        }
        self.pointer = handle
        self.context = context
    }

    /// Destroys the handle, then its context.
    func destroy() {
        crdk_destroy(self.pointer)
        crdk_context_free(self.context)
    }

    /// The last error librdkafka reported for this handle through its error callback (connection
    /// failures and the like), if any.
    var lastReportedError: String? {
        let (code, text) = withErrorBuffer { crdk_context_last_error(self.context, $0, $1) }
        return code == 0 ? nil : text
    }

    /// An error for `code`; for a timeout or connection failure, with the last error the brokers'
    /// connections reported, which is usually what went wrong.
    func error(_ code: Int32, _ action: String) -> KafkaError {
        let connectionProblem = [CRDK_ERR_TIMED_OUT, CRDK_ERR_TRANSPORT, CRDK_ERR_ALL_BROKERS_DOWN, CRDK_ERR_MSG_TIMED_OUT]
            .contains(code)
        let detail = connectionProblem ? self.lastReportedError.map { "last error from the brokers: \($0)" } : nil
        return KafkaError(rdkafka: code, action, detail: detail)
    }
}

/// Calls `body` with a buffer for librdkafka's error text and returns its result and the text.
func withErrorBuffer<T>(_ body: (UnsafeMutablePointer<CChar>, Int) -> T) -> (T, String) {
    var buffer = [CChar](repeating: 0, count: 512)
    let result = buffer.withUnsafeMutableBufferPointer { body($0.baseAddress!, $0.count) }
    let text = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    return (result, text)
}

extension Duration {
    /// Whole milliseconds, as librdkafka's `int timeout_ms` takes them (negative durations are 0).
    var kafkaMilliseconds: Int32 {
        let (seconds, attoseconds) = self.components
        let milliseconds = seconds.multipliedReportingOverflow(by: 1000)
        guard !milliseconds.overflow else { return seconds < 0 ? 0 : Int32.max }
        return Int32(clamping: max(0, milliseconds.partialValue + attoseconds / 1_000_000_000_000_000))
    }
}
