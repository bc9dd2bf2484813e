import CRDKafka
import Foundation

/// The librdkafka that KafkaClient uses, opened at run time.
///
/// Nothing links against librdkafka: the first producer, consumer or admin client opens it with
/// `dlopen`, from the path in its ``KafkaConfiguration/libraryPath``, else from the environment
/// variable `SWITCHYARD_LIBRDKAFKA`, else as `librdkafka.so.1` from the system's library path. A
/// process uses one librdkafka: once one is loaded, asking for another fails.
public enum KafkaLibrary {
    /// Loads librdkafka now, so that a missing or too old one is reported early.
    ///
    /// Loading the library that is loaded already does nothing.
    /// - Parameter path: The library's file; `nil` for `SWITCHYARD_LIBRDKAFKA`, then the system's.
    /// - Throws: ``KafkaError`` with code ``KafkaError/libraryUnavailable`` when it cannot be opened,
    ///   is not librdkafka, is older than 2.2.0, or differs from the one loaded already.
    public static func load(path: String? = nil) throws(KafkaError) {
        let environment = ProcessInfo.processInfo.environment["SWITCHYARD_LIBRDKAFKA"].flatMap { $0.isEmpty ? nil : $0 }
        let chosen = path ?? environment
        var reason = [CChar](repeating: 0, count: 1024)
        let status = reason.withUnsafeMutableBufferPointer { buffer in
            if let chosen {
                chosen.withCString { crdk_load($0, buffer.baseAddress, buffer.count) }
            } else {
                crdk_load(nil, buffer.baseAddress, buffer.count)
            }
        }
        guard status != 0 else { return }
        let text = reason.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        throw KafkaError(
            code: KafkaError.libraryUnavailable,
            message: """
                \(text). Kafka needs librdkafka 2.2.0 or newer: set SWITCHYARD_LIBRDKAFKA to its path (the \
                confluent-kafka wheel from PyPI has one, confluent_kafka.libs/librdkafka-*.so.1), or install \
                it where the dynamic loader finds librdkafka.so.1
                """)
    }

    /// The loaded librdkafka's version, such as `2.16.0`; empty while none is loaded.
    public static var version: String {
        crdk_is_loaded() != 0 ? String(cString: crdk_version_str()) : ""
    }
}
