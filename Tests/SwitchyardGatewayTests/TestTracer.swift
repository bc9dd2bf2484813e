import Foundation
import Synchronization
import Tracing

/// A tracer that keeps every finished span in memory, with W3C `traceparent` propagation: the
/// tracing tests' instrument. Each test scopes one with `withTracer` and looks only at the spans
/// of a trace id it started.
final class TestTracer: Tracer {
    typealias Span = TestSpan

    /// A span's identity in its context.
    struct Identity: Sendable, Hashable {
        var traceID: String
        var spanID: String
    }

    enum IdentityKey: ServiceContextKey {
        typealias Value = Identity
    }

    /// A finished span, as recorded.
    struct Record: Sendable {
        var name: String
        var kind: SpanKind
        var identity: Identity
        var parentSpanID: String?
        var attributes: SpanAttributes
        var status: SpanStatus?
    }

    private let records = Mutex<[Record]>([])

    /// The finished spans of one trace, in the order they ended.
    func spans(trace traceID: String) -> [Record] {
        records.withLock { $0.filter { $0.identity.traceID == traceID } }
    }

    func finished(_ record: Record) {
        records.withLock { $0.append(record) }
    }

    static func randomHex(_ bytes: Int) -> String {
        (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 1...255)) }.joined()
    }

    func startSpan<Instant: TracerInstant>(
        _ operationName: String, context: @autoclosure () -> ServiceContext, ofKind kind: SpanKind,
        at instant: @autoclosure () -> Instant, function: String, file fileID: String, line: UInt
    ) -> TestSpan {
        var context = context()
        let parent = context[IdentityKey.self]
        let identity = Identity(traceID: parent?.traceID ?? Self.randomHex(16), spanID: Self.randomHex(8))
        context[IdentityKey.self] = identity
        return TestSpan(name: operationName, kind: kind, context: context, identity: identity, parentSpanID: parent?.spanID, tracer: self)
    }

    func extract<Carrier, Extract: Extractor>(_ carrier: Carrier, into context: inout ServiceContext, using extractor: Extract)
    where Extract.Carrier == Carrier {
        guard let header = extractor.extract(key: "traceparent", from: carrier) else { return }
        let parts = header.split(separator: "-")
        guard parts.count == 4, parts[1].count == 32, parts[2].count == 16 else { return }
        context[IdentityKey.self] = Identity(traceID: String(parts[1]), spanID: String(parts[2]))
    }

    func inject<Carrier, Inject: Injector>(_ context: ServiceContext, into carrier: inout Carrier, using injector: Inject)
    where Inject.Carrier == Carrier {
        guard let identity = context[IdentityKey.self] else { return }
        injector.inject("00-\(identity.traceID)-\(identity.spanID)-01", forKey: "traceparent", into: &carrier)
    }

    func forceFlush() {}
}

/// A span of ``TestTracer``: recorded when it ends.
final class TestSpan: Tracing.Span {
    let context: ServiceContext
    let identity: TestTracer.Identity
    private let state: Mutex<(name: String, attributes: SpanAttributes, status: SpanStatus?, ended: Bool)>
    private let kind: SpanKind
    private let parentSpanID: String?
    private let tracer: TestTracer

    init(name: String, kind: SpanKind, context: ServiceContext, identity: TestTracer.Identity, parentSpanID: String?, tracer: TestTracer) {
        self.context = context
        self.identity = identity
        self.kind = kind
        self.parentSpanID = parentSpanID
        self.tracer = tracer
        state = Mutex((name, [:], nil, false))
    }

    var operationName: String {
        get { state.withLock { $0.name } }
        set { state.withLock { $0.name = newValue } }
    }

    var attributes: SpanAttributes {
        get { state.withLock { $0.attributes } }
        set { state.withLock { $0.attributes = newValue } }
    }

    var isRecording: Bool { state.withLock { !$0.ended } }

    func setStatus(_ status: SpanStatus) { state.withLock { $0.status = status } }
    func addEvent(_ event: SpanEvent) {}
    func recordError<Instant: TracerInstant>(_ error: any Error, attributes: SpanAttributes, at instant: @autoclosure () -> Instant) {}
    func addLink(_ link: SpanLink) {}

    func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) {
        let record = state.withLock { state -> TestTracer.Record? in
            guard !state.ended else { return nil }
            state.ended = true
            return TestTracer.Record(
                name: state.name, kind: kind, identity: identity, parentSpanID: parentSpanID, attributes: state.attributes, status: state.status)
        }
        if let record { tracer.finished(record) }
    }
}
