/// A JSON Schema (draft-07) compiled once into a tree of checks, to validate many instances.
///
/// Compiling resolves every `$ref`, compiles every regular expression and picks every format check,
/// so validation does no schema work. A compiled schema is an immutable value: share it freely
/// between tasks and threads.
public struct CompiledSchema: Sendable {
    /// What compilation does beyond the draft-07 rules.
    public struct Options: Sendable {
        /// Whether `format` asserts (the default) or only annotates, as draft-07 allows either.
        /// Formats this validator does not know always pass.
        public var assertsFormats: Bool

        /// Options with the documented defaults.
        public init(assertsFormats: Bool = true) {
            self.assertsFormats = assertsFormats
        }
    }

    private let nodes: [CompiledNode]

    /// Compiles `schema`.
    /// - Parameters:
    ///   - schema: The schema: an object or a Boolean.
    ///   - baseURI: The URI the schema was retrieved from; relative `$id`s and `$ref`s resolve against it.
    ///   - options: What compilation does beyond the draft-07 rules.
    ///   - resolveRemote: Returns the document at an absolute URI (without fragment) that a `$ref` names
    ///     and that is neither this schema nor the draft-07 meta-schema, or `nil` if there is none.
    ///     It is called during compilation only; nothing is ever fetched from the network.
    /// - Throws: ``SchemaCompileError`` naming the schema location of the first problem.
    public init(
        compiling schema: JSONValue,
        baseURI: String = "",
        options: Options = Options(),
        resolveRemote: @escaping (String) -> JSONValue? = { _ in nil }
    ) throws(SchemaCompileError) {
        var compiler = SchemaCompiler(resolveRemote: resolveRemote, assertsFormats: options.assertsFormats)
        try compiler.compileRoot(schema, uri: baseURI)
        nodes = compiler.nodes.map(CompiledNode.init)
    }

    /// Whether `instance` satisfies the schema. Stops at the first failure and allocates nothing.
    public func isValid(_ instance: JSONValue) -> Bool {
        var validator = Validator(nodes: nodes, collecting: false)
        return validator.validate(instance, 0)
    }

    /// Every way `instance` fails the schema; empty when it is valid.
    ///
    /// A valid instance costs the same as ``isValid(_:)``. `anyOf`, `oneOf`, `not` and `contains`
    /// report one failure for the keyword at its location rather than the failures of each alternative.
    public func validate(_ instance: JSONValue) -> [ValidationFailure] {
        guard !isValid(instance) else { return [] }
        var validator = Validator(nodes: nodes, collecting: true)
        _ = validator.validate(instance, 0)
        return validator.failures
    }

    /// The failures of `instance` reduced to missing and invalid fields; empty when it is valid.
    public func summarize(_ instance: JSONValue) -> ValidationSummary {
        ValidationSummary(validate(instance))
    }
}

extension CompiledSchema {
    private static let metaSchema: CompiledSchema = {
        do {
            return try CompiledSchema(compiling: draft07MetaSchema, baseURI: draft07MetaSchemaURI)
        } catch {
            preconditionFailure("the embedded draft-07 meta-schema does not compile: \(error)")
        }
    }()

    /// Checks `schema` against the draft-07 meta-schema, as a linter of contract schemas does.
    ///
    /// The meta-schema allows some schemas that still do not compile (an invalid regular expression,
    /// a `$ref` that does not resolve); compile the schema to find those.
    /// - Returns: The ways `schema` fails the meta-schema; empty when it conforms.
    public static func metaSchemaFailures(of schema: JSONValue) -> [ValidationFailure] {
        metaSchema.validate(schema)
    }
}
