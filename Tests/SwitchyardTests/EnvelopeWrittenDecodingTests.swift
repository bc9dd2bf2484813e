import Foundation
import JSONSchema
import Testing

@testable import Switchyard

/// The reading of an envelope laid out as Switchyard writes it (`Envelope.decodeWritten`) against
/// the general reading (parse the whole object, then read its members): where it answers, the
/// two give the same envelope, and it never answers where the general reading refuses.
@Suite struct EnvelopeWrittenDecodingTests {
    /// The general reading: what `Envelope(decoding:)` did before the written layout was read directly.
    static func general(_ bytes: [UInt8]) -> Result<Envelope, SwitchyardError> {
        Result { () throws(SwitchyardError) in
            let value: JSONValue
            do { value = try JSONValue(parsing: bytes) } catch {
                throw SwitchyardError(.malformedJSON, "the envelope is not valid JSON: \(error)")
            }
            return try Envelope(json: value)
        }
    }

    static func written(_ bytes: [UInt8]) -> Envelope? {
        bytes.withUnsafeBufferPointer { Envelope.decodeWritten($0) }
    }

    static func envelopes() throws -> [Envelope] {
        let base = try Envelope(decoding: EnvelopeTests.designExample)
        var withEventTime = base
        withEventTime.eventTime = "2026-01-27T10:30:05Z"
        var nested = base
        nested.data = ["a": [1, 2.5, "x\"y\\z", ["b": nil, "c": [true, false]]], "é": "ünïcode ✓", "empty": [:], "list": []]
        nested.metadata = ["traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "n": 1]
        var scalar = base
        scalar.data = 42
        var stringData = base
        stringData.data = "a string, with \"quotes\" and } and ]"
        var large = base
        large.sequenceNumber = .max - 1
        var unusual = base
        unusual.source = "svc with spaces"
        unusual.schema = "price.updated.*@1"
        return [base, withEventTime, nested, scalar, stringData, large, unusual]
    }

    @Test func envelopesAsWrittenAreReadDirectlyAndEqualTheGeneralReading() throws {
        for envelope in try Self.envelopes() {
            var bytes: [UInt8] = []
            envelope.write(into: &bytes)
            let direct = try #require(Self.written(bytes), "read directly: \(String(decoding: bytes, as: UTF8.self))")
            #expect(direct == envelope)
            #expect(try Self.general(bytes).get() == envelope)
            #expect(try Envelope(decoding: bytes) == envelope)
            #expect(try Envelope(decoding: String(decoding: bytes, as: UTF8.self)) == envelope)
        }
    }

    @Test(arguments: [
        // members in another order, or another member: the general reading takes them
        #"{"channel":"trades:x","event_id":"0193a2c4-7b1e-7c3a-9f1e-3b2d1c0a9e8f","topic":"trades:x","sequence_number":1,"timestamp":"2026-01-27T10:30:05.123Z","source":"s","schema":"c@1","data":{},"metadata":{}}"#,
        #"{"event_id":"0193a2c4-7b1e-7c3a-9f1e-3b2d1c0a9e8f","channel":"trades:x","topic":"trades:x","sequence_number":1,"timestamp":"2026-01-27T10:30:05.123Z","source":"s","schema":"c@1","data":{},"metadata":{},"extra":1}"#,
        // whitespace, an escape, non-ASCII in a member the direct reading reads itself
        #"{ "event_id":"0193a2c4-7b1e-7c3a-9f1e-3b2d1c0a9e8f","channel":"trades:x","topic":"trades:x","sequence_number":1,"timestamp":"2026-01-27T10:30:05.123Z","source":"s","schema":"c@1","data":{},"metadata":{}}"#,
        #"{"event_id":"0193a2c4-7b1e-7c3a-9f1e-3b2d1c0a9e8f","channel":"trades:x","topic":"trades:x","sequence_number":1,"timestamp":"2026-01-27T10:30:05.123Z","source":"s\"q","schema":"c@1","data":{},"metadata":{}}"#,
        #"{"event_id":"0193a2c4-7b1e-7c3a-9f1e-3b2d1c0a9e8f","channel":"trades:x","topic":"trades:x","sequence_number":1,"timestamp":"2026-01-27T10:30:05.123Z","source":"sérvice","schema":"c@1","data":{},"metadata":{}}"#,
        // topic not a string (the general reading ignores it), metadata null
        #"{"event_id":"0193a2c4-7b1e-7c3a-9f1e-3b2d1c0a9e8f","channel":"trades:x","topic":7,"sequence_number":1,"timestamp":"2026-01-27T10:30:05.123Z","source":"s","schema":"c@1","data":{},"metadata":null}"#,
        // refused by both: a sequence number of 0, one with a fraction, one past Int64, the maximum itself
        #"{"event_id":"0193a2c4-7b1e-7c3a-9f1e-3b2d1c0a9e8f","channel":"trades:x","topic":"trades:x","sequence_number":0,"timestamp":"2026-01-27T10:30:05.123Z","source":"s","schema":"c@1","data":{},"metadata":{}}"#,
        #"{"event_id":"0193a2c4-7b1e-7c3a-9f1e-3b2d1c0a9e8f","channel":"trades:x","topic":"trades:x","sequence_number":1.5,"timestamp":"2026-01-27T10:30:05.123Z","source":"s","schema":"c@1","data":{},"metadata":{}}"#,
        #"{"event_id":"0193a2c4-7b1e-7c3a-9f1e-3b2d1c0a9e8f","channel":"trades:x","topic":"trades:x","sequence_number":1e2,"timestamp":"2026-01-27T10:30:05.123Z","source":"s","schema":"c@1","data":{},"metadata":{}}"#,
        #"{"event_id":"0193a2c4-7b1e-7c3a-9f1e-3b2d1c0a9e8f","channel":"trades:x","topic":"trades:x","sequence_number":92233720368547758070,"timestamp":"2026-01-27T10:30:05.123Z","source":"s","schema":"c@1","data":{},"metadata":{}}"#,
        #"{"event_id":"0193a2c4-7b1e-7c3a-9f1e-3b2d1c0a9e8f","channel":"trades:x","topic":"trades:x","sequence_number":9223372036854775807,"timestamp":"2026-01-27T10:30:05.123Z","source":"s","schema":"c@1","data":{},"metadata":{}}"#,
        // refused by both: a bad event id, channel, timestamp, metadata, event_time; data cut short; trailing bytes
        #"{"event_id":"not-a-uuid","channel":"trades:x","topic":"trades:x","sequence_number":1,"timestamp":"2026-01-27T10:30:05.123Z","source":"s","schema":"c@1","data":{},"metadata":{}}"#,
        #"{"event_id":"0193a2c4-7b1e-7c3a-9f1e-3b2d1c0a9e8f","channel":"no spaces allowed","topic":"x","sequence_number":1,"timestamp":"2026-01-27T10:30:05.123Z","source":"s","schema":"c@1","data":{},"metadata":{}}"#,
        #"{"event_id":"0193a2c4-7b1e-7c3a-9f1e-3b2d1c0a9e8f","channel":"trades:x","topic":"trades:x","sequence_number":1,"timestamp":"yesterday","source":"s","schema":"c@1","data":{},"metadata":{}}"#,
        #"{"event_id":"0193a2c4-7b1e-7c3a-9f1e-3b2d1c0a9e8f","channel":"trades:x","topic":"trades:x","sequence_number":1,"timestamp":"2026-01-27T10:30:05.123Z","source":"s","schema":"c@1","data":{},"metadata":[1]}"#,
        #"{"event_id":"0193a2c4-7b1e-7c3a-9f1e-3b2d1c0a9e8f","channel":"trades:x","topic":"trades:x","sequence_number":1,"timestamp":"2026-01-27T10:30:05.123Z","event_time":5,"source":"s","schema":"c@1","data":{},"metadata":{}}"#,
        #"{"event_id":"0193a2c4-7b1e-7c3a-9f1e-3b2d1c0a9e8f","channel":"trades:x","topic":"trades:x","sequence_number":1,"timestamp":"2026-01-27T10:30:05.123Z","source":"s","schema":"c@1","data":{"a":[1,2},"metadata":{}}"#,
        #"{"event_id":"0193a2c4-7b1e-7c3a-9f1e-3b2d1c0a9e8f","channel":"trades:x","topic":"trades:x","sequence_number":1,"timestamp":"2026-01-27T10:30:05.123Z","source":"s","schema":"c@1","data":{},"metadata":{}}x"#,
        #"{"event_id":"0193a2c4-7b1e-7c3a-9f1e-3b2d1c0a9e8f","channel":"trades:x","topic":"trades:x","sequence_number":1,"timestamp":"2026-01-27T10:30:05.123Z","source":"s","schema":"c@1","data":,"metadata":{}}"#,
    ])
    func otherLayoutsGoTheGeneralWayAndGetItsAnswer(_ text: String) {
        let bytes = Array(text.utf8)
        #expect(Self.written(bytes) == nil, "not the written layout, or not an envelope")
        #expect(Self.same(Result { () throws(SwitchyardError) in try Envelope(decoding: bytes) }, Self.general(bytes)))
    }

    @Test func nestingAtTheParsersLimitIsAnsweredAlike() throws {
        var envelope = try Envelope(decoding: EnvelopeTests.designExample)
        // The envelope is one level: data nested 511 deep is at the parser's limit of 512.
        for depth in [JSONValue.defaultMaxDepth - 2, JSONValue.defaultMaxDepth - 1, JSONValue.defaultMaxDepth] {
            var data: JSONValue = []
            for _ in 1..<depth { data = [data] }
            envelope.data = data
            var bytes: [UInt8] = []
            envelope.write(into: &bytes)
            let general = Self.general(bytes)
            #expect((try? general.get()) != nil || depth == JSONValue.defaultMaxDepth, "depth \(depth)")
            #expect(Self.written(bytes) == (try? general.get()), "depth \(depth)")
            #expect(Self.same(Result { () throws(SwitchyardError) in try Envelope(decoding: bytes) }, general), "depth \(depth)")
        }
    }

    /// Written envelopes with bytes changed, cut, doubled or inserted at random (seeded, so a failure
    /// repeats): the direct reading answers only with what the general reading answers.
    @Test func mutatedEnvelopesAreAnsweredAsTheGeneralReadingAnswers() throws {
        var rng = SplitMix64(seed: 0x5EED_E4E1)
        let alphabet = Array(#"{}[]",:\0123456789-.eE aéz"#.utf8)
        var direct = 0
        for envelope in try Self.envelopes() {
            var original: [UInt8] = []
            envelope.write(into: &original)
            for _ in 0..<2_000 {
                var bytes = original
                for _ in 0..<Int.random(in: 1...3, using: &rng) {
                    let at = Int.random(in: 0..<bytes.count, using: &rng)
                    switch Int.random(in: 0..<4, using: &rng) {
                    case 0: bytes[at] = alphabet.randomElement(using: &rng)!
                    case 1: bytes.remove(at: at)
                    case 2: bytes.insert(alphabet.randomElement(using: &rng)!, at: at)
                    default: bytes.insert(bytes[at], at: at)
                    }
                    if bytes.isEmpty { bytes = [UInt8(ascii: "{")] }
                }
                let general = Self.general(bytes)
                if let read = Self.written(bytes) {
                    direct += 1
                    #expect(read == (try? general.get()), "\(String(decoding: bytes, as: UTF8.self))")
                }
                #expect(Self.same(Result { () throws(SwitchyardError) in try Envelope(decoding: bytes) }, general))
            }
        }
        #expect(direct > 0, "some mutations keep the written layout (a changed digit or letter)")
    }

    static func same(_ a: Result<Envelope, SwitchyardError>, _ b: Result<Envelope, SwitchyardError>) -> Bool {
        switch (a, b) {
        case (.success(let x), .success(let y)): x == y
        case (.failure(let x), .failure(let y)): x.code == y.code && x.message == y.message
        default: false
        }
    }
}
