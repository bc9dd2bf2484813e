import Foundation
import Logging
import Metrics
import OTel
import ServiceLifecycle
import SwitchyardGateway
import Tracing

/// Exports traces and metrics to an OpenTelemetry collector over OTLP/HTTP (protobuf), with
/// swift-otel: the spans Switchyard reports (`switchyard.publish`, `switchyard.relay`,
/// `switchyard.deliver`) and every metric of `/metrics`.
///
/// `switchyard serve --otlp-endpoint URL` makes one; an app bootstraps its own the same way:
///
/// ```swift
/// let export = try OTLPExport(endpoint: "http://collector:4318", serviceName: "trade_executor")
/// InstrumentationSystem.bootstrap(export.tracer)
/// MetricsSystem.bootstrap(MultiplexMetricsHandler(factories: [export.metricsFactory, prometheus]))
/// // run export.services in the app's ServiceGroup
/// ```
///
/// The tracer propagates W3C trace context, so a publish span continues the trace of the
/// `traceparent` its caller sent, and the span Switchyard writes into the envelope is the parent of
/// every consumer's deliver span.
public struct OTLPExport: Sendable {
    /// The collector's base URL; traces go to `ENDPOINT/v1/traces`, metrics to `ENDPOINT/v1/metrics`.
    public let endpoint: String
    /// The tracer to bootstrap (`InstrumentationSystem.bootstrap`).
    public let tracer: any Tracer
    /// The metrics factory to bootstrap, alone or beside another in a `MultiplexMetricsHandler`.
    public let metricsFactory: any MetricsFactory
    /// The exporters' background work: run them with the app's other services.
    public let services: [any Service]

    /// Makes the exporters; nothing is sent until ``services`` run.
    /// - Parameters:
    ///   - endpoint: `http://HOST:PORT` (or `https://`) of an OTLP/HTTP receiver, without the signal's path.
    ///   - serviceName: The `service.name` resource attribute: the publishing service.
    ///   - spanDelay: How long finished spans wait to be sent in a batch.
    ///   - metricsInterval: How often the metrics are sent.
    /// - Throws: ``GatewayConfigurationError`` (key `otlp_endpoint`) for a URL that is not `http(s)://HOST[:PORT]`,
    ///   or swift-otel's error for a configuration it refuses.
    public init(
        endpoint: String, serviceName: String, spanDelay: Duration = .seconds(1), metricsInterval: Duration = .seconds(10)
    ) throws {
        guard let url = URL(string: endpoint), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil,
            url.query == nil
        else {
            throw GatewayConfigurationError(key: "otlp_endpoint", "must be an OTLP/HTTP base URL such as http://127.0.0.1:4318")
        }
        let base = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        var configuration = OTel.Configuration.default
        configuration.serviceName = serviceName
        configuration.propagators = [.traceContext]
        configuration.logs.enabled = false
        configuration.traces.otlpExporter.endpoint = base + "/v1/traces"
        configuration.traces.otlpExporter.protocol = .httpProtobuf
        configuration.traces.batchSpanProcessor.scheduleDelay = spanDelay
        configuration.traces.sampler = .parentBasedAlwaysOn
        configuration.metrics.otlpExporter.endpoint = base + "/v1/metrics"
        configuration.metrics.otlpExporter.protocol = .httpProtobuf
        configuration.metrics.exportInterval = metricsInterval
        let traces = try OTel.makeTracingBackend(configuration: configuration)
        let metrics = try OTel.makeMetricsBackend(configuration: configuration)
        self.endpoint = base
        self.tracer = traces.factory
        self.metricsFactory = metrics.factory
        self.services = [traces.service, metrics.service]
    }
}
