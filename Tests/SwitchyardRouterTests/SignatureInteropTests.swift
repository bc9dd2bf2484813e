import Foundation
import JSONSchema
import Logging
import Switchyard
import Testing

/// The canonical form is defined precisely enough for another language: docs/examples/signature.py
/// (Python's standard library) verifies what the Swift router signs, and Swift verifies what it signs.
@Suite("Signatures across languages")
struct SignatureInteropTests {
    static let script = PythonInteropTests.root.appendingPathComponent("docs/examples/signature.py").path
    static let secret = Data(repeating: 0x11, count: 32).base64EncodedString()

    /// A payload with what canonicalization has to get right: member order, escapes, non-ASCII
    /// (beyond the BMP too), integral and tiny and huge doubles, nesting.
    static let payload: JSONValue = [
        "n": 1, "publisher": 2, "note": "é \"quoted\" \\ back\nline\ttab \u{1} ✓ 𝄞",
        "price": 0.65, "whole": 2.0, "tiny": 2.5e-7, "huge": 1.5e300, "negative": -17,
        "nested": ["z": 1, "a": [true, nil, ["b": "x", "A": "y"]]],
    ]

    static func python(_ arguments: [String], stdin: String) async throws -> (status: Int32, output: String, errors: String) {
        let result = try await PythonInteropTests.run([script] + arguments, stdin: stdin)
        return (result.status, result.output.trimmingCharacters(in: .whitespacesAndNewlines), result.errors)
    }

    @Test("Python verifies the router's signatures and refuses a changed copy; Swift verifies Python's")
    func bothWays() async throws {
        let keys = SignedEventsTests.ring(SignedEventsTests.k1)
        let engine = EmbeddedEngine(logger: Logger(label: "test.interop"))
        let router = SignedEventsTests.router(engine, keys: keys)
        let channel = Fixtures.channel("test:interop")
        try await router.publish(to: channel, payload: Self.payload, metadata: ["user_id": "user_0001", "desk": "ΔΣ"])
        let stored = try #require(try await router.latest(channel))
        let text = stored.encoded()

        let verified = try await Self.python(["verify", "k1:\(Self.secret)"], stdin: text)
        #expect(verified.status == 0 && verified.output == "ok", "\(verified.output) \(verified.errors)")
        let changed = try await Self.python(["verify", "k1:\(Self.secret)"], stdin: text.replacingOccurrences(of: #""negative":-17"#, with: #""negative":-18"#))
        #expect(changed.status == 1 && changed.output == "invalid_signature")
        let other = try await Self.python(["verify", "k9:\(Self.secret)"], stdin: text)
        #expect(other.output == "unknown_signing_key")

        var unsigned = stored
        unsigned.metadata["signature"] = nil
        unsigned.eventID = EventID.generate()
        let signed = try await Self.python(["sign", "k1", Self.secret], stdin: unsigned.encoded())
        #expect(signed.status == 0, "\(signed.errors)")
        let envelope = try Envelope(decoding: signed.output)
        #expect(envelope.metadata["signature"]?["key_id"] == "k1")
        try EventSigner(keys: keys).verify(envelope)
        #expect(envelope.metadata["signature"]?["value"] != stored.metadata["signature"]?["value"], "a new event id, a new signature")
    }
}
