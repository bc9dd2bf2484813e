import JSONSchema
import Tracing

/// W3C trace context in an envelope's `metadata`: the `traceparent` and `tracestate` keys, as
/// strings. The router reads and writes them through the process's tracer
/// (`InstrumentationSystem.tracer`), which knows the format; Switchyard never bootstraps one.
///
/// A publish continues the trace named in its metadata (or the task's current one), and writes
/// its own span's context back, so a consumer's span is a child of the publish span.
public enum TraceContext {
    /// The metadata key of the W3C `traceparent`.
    public static let traceparentKey = "traceparent"
    /// The metadata key of the W3C `tracestate`.
    public static let tracestateKey = "tracestate"

    /// A context with the trace context in `metadata` extracted into it.
    /// - Parameters:
    ///   - metadata: An envelope's or a publish request's metadata.
    ///   - base: The context to extract into; the task's current one by default.
    public static func extract(from metadata: JSONObject, base: ServiceContext? = ServiceContext.current) -> ServiceContext {
        var context = base ?? .topLevel
        InstrumentationSystem.tracer.extract(metadata, into: &context, using: MetadataExtractor())
        return context
    }

    /// `metadata` with `context`'s trace context written into it (unchanged without a tracer).
    public static func inject(_ context: ServiceContext, into metadata: JSONObject) -> JSONObject {
        var metadata = metadata
        InstrumentationSystem.tracer.inject(context, into: &metadata, using: MetadataInjector())
        return metadata
    }

    /// Whether `text` has the form of a W3C `traceparent`: `VV-TRACEID-SPANID-FLAGS` in lowercase
    /// hex (2, 32, 16 and 2 digits), the version not `ff`, trace and span ids not all zero.
    public static func isValidTraceparent(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts[0].count == 2, parts[1].count == 32, parts[2].count == 16, parts[3].count == 2 else { return false }
        if parts[0] == "00" && parts.count != 4 { return false }
        let hex = parts.prefix(4).allSatisfy { $0.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) } }
        return hex && parts[0] != "ff" && parts[1].contains { $0 != "0" } && parts[2].contains { $0 != "0" }
    }

    struct MetadataExtractor: Extractor {
        func extract(key: String, from carrier: JSONObject) -> String? {
            carrier[key]?.stringValue
        }
    }

    struct MetadataInjector: Injector {
        func inject(_ value: String, forKey key: String, into carrier: inout JSONObject) {
            carrier[key] = .string(value)
        }
    }
}

extension Span {
    /// Marks the span failed: records the error, sets the status to error with its code, and the
    /// `switchyard.error_type` attribute.
    public func fail(_ error: SwitchyardError) {
        recordError(error)
        setStatus(SpanStatus(code: .error, message: error.code.rawValue))
        attributes["switchyard.error_type"] = error.code.rawValue
    }
}
