/// An error thrown when a schema cannot be compiled: it is not a valid draft-07 schema, a pattern is not a
/// valid regular expression, or a `$ref` cannot be resolved.
public struct SchemaCompileError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of problem the compiler found.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let name: String

        private init(_ name: String) { self.name = name }

        /// A schema or subschema is neither an object nor a Boolean.
        public static let notASchema = Code("not a schema")
        /// A keyword has a value of the wrong kind, such as a negative `minLength` or a non-string `pattern`.
        public static let invalidKeywordValue = Code("invalid keyword value")
        /// A `pattern` or `patternProperties` key is not a regular expression this validator can run.
        public static let invalidPattern = Code("invalid regular expression")
        /// A `$ref` names a document or location that is not known and that the resolver did not provide.
        public static let unresolvedReference = Code("unresolved reference")

        public var description: String { name }
    }

    /// What kind of problem the compiler found.
    public var code: Code
    /// Where in the schema: a URI whose fragment is a JSON Pointer, such as `#/properties/price/pattern`.
    public var schemaLocation: String
    /// What was wrong there.
    public var detail: String

    /// An error of this kind at this schema location.
    public init(_ code: Code, at schemaLocation: String, _ detail: String) {
        self.code = code
        self.schemaLocation = schemaLocation
        self.detail = detail
    }

    public var description: String { "invalid schema at \(schemaLocation): \(code): \(detail)" }
}
