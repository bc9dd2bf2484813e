import JSONSchema

/// An error from Switchyard, with a code, a message safe to show, and structured details.
///
/// Its ``body`` is the wire shape every refusal takes (HTTP body, CLI output, dead-letter reason):
/// `{"error_type":"validation_error","message":"Invalid message schema","details":{…}}`.
/// The description never includes a payload or a credential.
public struct SwitchyardError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, as a stable string (the `error_type` on the wire).
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The wire name, such as `validation_error`.
        public let rawValue: String
        /// Wraps a wire name.
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The payload does not satisfy its contract, is not a JSON object, or carries credentials.
        public static let validationError = Code("validation_error")
        /// The message is larger than the channel's policy allows.
        public static let payloadTooLarge = Code("payload_too_large")
        /// The text is not JSON.
        public static let malformedJSON = Code("malformed_json")
        /// The string is not a valid channel name or pattern.
        public static let invalidChannel = Code("invalid_channel")
        /// No contract covers the channel.
        public static let unknownChannel = Code("unknown_channel")
        /// A contract file or folder is broken.
        public static let invalidContract = Code("invalid_contract")
        /// The publisher exceeded the channel's rate limit.
        public static let rateLimited = Code("rate_limited")
    }

    /// What went wrong.
    public let code: Code
    /// A short message for people; never contains payload values or secrets.
    public let message: String
    /// Structured details, the `details` object of the wire shape.
    public let details: JSONObject
    /// Where the error was raised.
    public let file: String
    /// The line where the error was raised.
    public let line: Int

    /// Creates an error.
    public init(_ code: Code, _ message: String, details: JSONObject = [:], file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.details = details
        self.file = file
        self.line = line
    }

    /// The wire shape: `{"error_type", "message", "details"}`.
    public var body: JSONValue {
        .object(["error_type": .string(code.rawValue), "message": .string(message), "details": .object(details)])
    }

    public var description: String {
        "\(code): \(message)"
    }
}

extension SwitchyardError {
    /// The `validation_error` for these schema failures, as DESIGN.md shapes it.
    public static func validation(_ summary: ValidationSummary, file: String = #fileID, line: Int = #line) -> SwitchyardError {
        validation(missing: summary.missingFields, invalid: summary.invalidFields, file: file, line: line)
    }

    /// A `validation_error` naming missing fields and invalid fields with their reasons.
    public static func validation(
        missing: [String], invalid: [(field: String, reason: String)], message: String = "Invalid message schema",
        file: String = #fileID, line: Int = #line
    ) -> SwitchyardError {
        SwitchyardError(
            .validationError, message,
            details: [
                "missing_fields": .array(missing.map { .string($0) }),
                "invalid_fields": .object(JSONObject(invalid.map { (key: $0.field, value: .string($0.reason)) })),
            ],
            file: file, line: line)
    }
}
