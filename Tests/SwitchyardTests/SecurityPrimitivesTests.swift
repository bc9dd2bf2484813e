import Foundation
import JSONSchema
import Testing

@testable import Switchyard

/// Keys, the canonical form, signatures and sealed fields, without an engine.
@Suite struct SecurityPrimitivesTests {
    static let secret = Array(0..<32).map(UInt8.init)
    static let secretBase64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

    // MARK: Keys

    @Test func keyRingsReadIDColonBase64NewestFirst() throws {
        let ring = try KeyRing(parsing: "# newest first\nk2:\(Self.secretBase64)\n\n k1:\(Self.secretBase64) \n", purpose: .signing, origin: "test")
        #expect(ring.ids == ["k2", "k1"])
        #expect(ring.current.id == "k2")
        #expect(ring.key(id: "k1")?.byteCount == 32)
        let commas = try KeyRing(parsing: "a:\(Self.secretBase64),b:\(Self.secretBase64)", purpose: .encryption, origin: "SWITCHYARD_ENCRYPTION_KEYS")
        #expect(commas.ids == ["a", "b"])
    }

    @Test func badKeysAreRefusedWithoutQuotingTheSecret() throws {
        let short = Data(repeating: 1, count: 16).base64EncodedString()
        let cases: [(String, KeyRing.Purpose, String)] = [
            ("", .signing, "no signing key"),
            ("k1:\(Self.secretBase64),k2:\(Self.secretBase64),k3:\(Self.secretBase64)", .signing, "at most 2"),
            ("k1:\(Self.secretBase64),k1:\(Self.secretBase64)", .signing, "given twice"),
            ("k1:\(short)", .signing, "at least 32 bytes"),
            ("k1:" + Data(repeating: 1, count: 48).base64EncodedString(), .encryption, "exactly 32 bytes"),
            ("k1:not*base64", .signing, "not base64"),
            ("no-colon-here", .signing, "ID:SECRET"),
            ("bad id:\(Self.secretBase64)", .signing, "key id"),
        ]
        for (text, purpose, words) in cases {
            do {
                _ = try KeyRing(parsing: text, purpose: purpose, origin: "keys.txt")
                Issue.record("'\(words)' was accepted")
            } catch {
                #expect(error.code == .invalidKey)
                #expect(error.message.contains(words), "\(error.message)")
                #expect(error.message.contains("keys.txt"))
                #expect(!error.message.contains(Self.secretBase64) && !error.message.contains(short) && !error.message.contains("not*base64"))
            }
        }
    }

    @Test func keysNeverPrintTheirSecret() throws {
        let ring = try KeyRing(parsing: "k2:\(Self.secretBase64),k1:\(Self.secretBase64)", purpose: .signing, origin: "test")
        for text in ["\(ring)", String(reflecting: ring), "\(ring.current)", String(reflecting: ring.current), "\(ring.keys)"] {
            #expect(!text.contains(Self.secretBase64) && !text.contains("AAECAwQF"), "\(text)")
        }
        #expect("\(ring)" == "signing keys k2 (current), k1")
        #expect(try SecretKey.generate(id: "fresh").byteCount == 32)
    }

    // MARK: Canonical form and signatures

    @Test func canonicalJSONSortsMembersAndWritesNumbersByValue() throws {
        let value = try JSONValue(parsing: #"{"b":[2.0,1e2,-0.0,0.65,1e-7,1.5e16,12345678901234567890],"a":{"z":"é\n\"","y":null,"x":true}}"#)
        #expect(String(decoding: CanonicalJSON.bytes(value), as: UTF8.self)
            == #"{"a":{"x":true,"y":null,"z":"é\n\""},"b":[2,100,0,0.65,1e-07,15000000000000000,1.2345678901234567e+19]}"#)
        // Reading the canonical text back and writing it again gives the same bytes.
        let again = try JSONValue(parsing: CanonicalJSON.bytes(value))
        #expect(CanonicalJSON.bytes(again) == CanonicalJSON.bytes(value))
    }

    static func knownEnvelope() throws -> Envelope {
        Envelope(
            eventID: EventID("0193a2c4-7b1e-7c3a-9f1e-3b2d1c0a9e8f")!, channel: try ChannelName("trades:order_filled"), sequenceNumber: 42,
            timestamp: Timestamp(rfc3339: "2026-01-27T10:30:05.123Z")!, source: "trade_executor", schema: "trades:order_filled@1",
            data: ["order_id": "ord_1", "filled_quantity": 10, "filled_price": 0.65], metadata: ["user_id": "user_0001"])
    }

    /// The worked example of docs/security.md, computed independently with Python's `hmac`.
    @Test func theSignatureMatchesTheDocumentedExample() throws {
        let envelope = try Self.knownEnvelope()
        let bytes = EventSigner.signedBytes(
            eventID: envelope.eventID, channel: envelope.channel, source: envelope.source, schema: envelope.schema, data: envelope.data,
            metadata: envelope.metadata, keyID: "k1")
        #expect(String(decoding: bytes, as: UTF8.self) == """
            switchyard-signature-v1
            {"channel":"trades:order_filled","data":{"filled_price":0.65,"filled_quantity":10,"order_id":"ord_1"},"event_id":"0193a2c4-7b1e-7c3a-9f1e-3b2d1c0a9e8f","key_id":"k1","metadata":{"user_id":"user_0001"},"schema":"trades:order_filled@1","source":"trade_executor"}
            """)
        let signer = EventSigner(keys: try KeyRing([try SecretKey(id: "k1", secret: Self.secret)], purpose: .signing))
        let signature = signer.signature(
            eventID: envelope.eventID, channel: envelope.channel, source: envelope.source, schema: envelope.schema, data: envelope.data,
            metadata: envelope.metadata)
        #expect(signature == ["alg": "HMAC-SHA256", "key_id": "k1", "value": "LDEaZ4jeZ4+CytySShdZxR9HIigOONS9eR5nlXP9EbQ="])
        var signed = envelope
        signed.metadata["signature"] = signature
        try signer.verify(signed)
        // What the store adds after signing is not covered; the text the envelope travels as verifies too.
        signed.sequenceNumber = 7
        try signer.verify(try Envelope(decoding: signed.encoded()))
    }

    @Test func verificationRefusesTamperedUnsignedMalformedAndUnknownKeys() throws {
        let old = try KeyRing([try SecretKey(id: "k1", secret: Self.secret)], purpose: .signing)
        let rotated = try KeyRing([try SecretKey(id: "k2", secret: Array(repeating: 9, count: 32)), old.current], purpose: .signing)
        let envelope = try Self.knownEnvelope()
        var signed = envelope
        signed.metadata["signature"] = EventSigner(keys: old).signature(
            eventID: envelope.eventID, channel: envelope.channel, source: envelope.source, schema: envelope.schema, data: envelope.data,
            metadata: envelope.metadata)
        func code(_ envelope: Envelope, _ keys: KeyRing) -> SwitchyardError.Code? {
            do { try EventSigner(keys: keys).verify(envelope); return nil } catch { return error.code }
        }
        #expect(code(signed, rotated) == nil, "a consumer holding the old and the new key verifies the old one's signatures")
        var tampered = signed
        tampered.data = ["order_id": "ord_1", "filled_quantity": 1000, "filled_price": 0.65]
        #expect(code(tampered, old) == .invalidSignature)
        var resourced = signed
        resourced.source = "someone_else"
        #expect(code(resourced, old) == .invalidSignature)
        var remetadata = signed
        remetadata.metadata["user_id"] = "user_0002"
        #expect(code(remetadata, old) == .invalidSignature)
        #expect(code(envelope, old) == .unsignedEvent)
        var malformed = signed
        malformed.metadata["signature"] = ["alg": "none", "key_id": "k1", "value": ""]
        #expect(code(malformed, old) == .invalidSignature)
        let newOnly = try KeyRing([rotated.current], purpose: .signing)
        #expect(code(signed, newOnly) == .unknownSigningKey)
        do { try EventSigner(keys: newOnly).verify(signed) } catch {
            #expect(error.details["key_id"] == "k1" && error.details["known_key_ids"] == ["k2"])
            #expect(!error.description.contains(Self.secretBase64))
        }
    }

    // MARK: Sealed fields

    @Test func sealedFieldsOpenWithTheirKeyAndStaySealedWithout() throws {
        let e1 = try SecretKey(id: "e1", secret: Array(repeating: 1, count: 32))
        let e2 = try SecretKey(id: "e2", secret: Array(repeating: 2, count: 32))
        let sealer = FieldSealer(keys: try KeyRing([e1], purpose: .encryption))
        let fields = [try SensitiveField("account_id"), try SensitiveField("beneficiary.iban"), try SensitiveField("absent")]
        let payload: JSONValue = ["account_id": "ACC-123", "beneficiary": ["iban": "DE89370400440532013000", "name": "A"], "qty": 3]
        var envelope = try Self.knownEnvelope()
        let (sealed, paths) = try sealer.seal(payload, fields: fields, eventID: envelope.eventID, channel: envelope.channel)
        #expect(paths == ["account_id", "beneficiary.iban"])
        let text = sealed.serialized()
        #expect(!text.contains("ACC-123") && !text.contains("DE89370400440532013000"))
        #expect(sealed["account_id"]?["sealed"] == "AES-256-GCM" && sealed["account_id"]?["key_id"] == "e1")
        #expect(sealed["beneficiary"]?["name"] == "A" && sealed["qty"] == 3)
        envelope.data = sealed
        envelope.metadata["sealed_fields"] = .array(paths.map { .string($0) })

        let opened = try FieldSealer(keys: try KeyRing([e2, e1], purpose: .encryption)).unseal(envelope)
        #expect(opened.data == payload)
        #expect(opened.metadata["sealed_fields"] == nil)
        let without = try FieldSealer(keys: try KeyRing([e2], purpose: .encryption)).unseal(envelope)
        #expect(without.data == sealed)
        #expect(FieldSealer.sealedFields(of: without) == ["account_id", "beneficiary.iban"])

        // A sealed value moved to another event, or changed, does not open.
        var moved = envelope
        moved.eventID = EventID.generate()
        #expect(throws: SwitchyardError.self) { try sealer.unseal(moved) }
        var swapped = envelope
        swapped.data = sealed
        if case .object(var object) = swapped.data, let account = object["account_id"], case .object(var beneficiary)? = object["beneficiary"] {
            beneficiary["iban"] = account
            object["beneficiary"] = .object(beneficiary)
            swapped.data = .object(object)
        }
        do { _ = try sealer.unseal(swapped); Issue.record("a sealed value moved to another field opened") } catch {
            #expect(error.code == .invalidCiphertext && error.details["field"] == "beneficiary.iban")
        }
    }

    // MARK: Contract files

    @Test func contractsMarkSensitiveFieldsDeclaredInTheSchema() throws {
        let schema = #""schema": {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}, "account": {"type": "object", "properties": {"iban": {"type": "string"}}}}},"#
        let folder = try ContractFolder([
            "good.json": #"{"channel": "payments:good", "sensitive_fields": ["account.iban"], "#
                + schema + #" "examples": {"valid": [{"n": 1}]}}"#,
            "typo.json": #"{"channel": "payments:typo", "sensitive_fields": ["acount.iban", "n", "n", ""], "#
                + schema + #" "examples": {"valid": [{"n": 1}]}}"#,
            "kind.json": #"{"channel": "payments:kind", "sensitive_fields": "n", "# + schema + #" "examples": {"valid": [{"n": 1}]}}"#,
        ])
        let (contracts, problems) = ContractRegistry.read(folder.path)
        #expect(contracts.map(\.channel.rawValue) == ["payments:good"])
        #expect(contracts.first?.sensitiveFields.map(\.description) == ["account.iban"])
        let lines = problems.map(\.description)
        #expect(lines.hasProblem("typo.json", "/sensitive_fields/0", "not declared in the schema"), "\(lines)")
        #expect(lines.hasProblem("typo.json", "/sensitive_fields/2", "listed twice"), "\(lines)")
        #expect(lines.hasProblem("typo.json", "/sensitive_fields/3", "not a field path"), "\(lines)")
        #expect(lines.hasProblem("kind.json", "/sensitive_fields", "must be an array"), "\(lines)")
    }
}
