import Benchmark
import JSONSchema
import Switchyard

/// Parse and validate the `quotes.realtime` payload (OPA's market quote) against its shipped
/// contract, the work every publish does before it touches Redis.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        warmupIterations: 1000,
        scalingFactor: .kilo,
        maxDuration: .seconds(3),
        maxIterations: .count(10_000)
    )

    let registry = try! ContractRegistry.shipped()
    let channel = try! ChannelName("quotes.realtime")
    let contract = registry.contract(for: channel)!
    let payloadValue = contract.validExamples[0]
    let payload = Array(payloadValue.serialized().utf8)
    let payloadGuard = PayloadGuard(registry: registry)
    let envelope = Envelope(
        eventID: .generate(), channel: channel, sequenceNumber: 42, timestamp: .now(),
        source: "opa-quotes-streamer", schema: contract.id, data: payloadValue)

    Benchmark("quotes.realtime parse") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try! JSONValue(parsing: payload))
        }
    }

    Benchmark("quotes.realtime validate") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(contract.validator.isValid(payloadValue))
        }
    }

    Benchmark("quotes.realtime parse + validate") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(contract.validator.isValid(try! JSONValue(parsing: payload)))
        }
    }

    Benchmark("quotes.realtime publish checks (PayloadGuard)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try! payloadGuard.check(channel: channel, payload: payload))
        }
    }

    Benchmark("quotes.realtime checks + envelope + encode (the Python baseline's cpu mode)") { benchmark in
        var sequence: Int64 = 0
        for _ in benchmark.scaledIterations {
            let checked = try! payloadGuard.check(channel: channel, payload: payload)
            sequence += 1
            let envelope = Envelope(
                eventID: .generate(), channel: channel, sequenceNumber: sequence, timestamp: .now(),
                source: "opa-quotes-streamer", schema: checked.schemaID, data: checked.payload)
            blackHole(envelope.encoded())
        }
    }

    Benchmark("envelope encode") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(envelope.encoded())
        }
    }

    Benchmark("UUIDv7 generate") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(EventID.generate())
        }
    }
}
