import JSONSchema
import Testing

@Suite struct SchemaCompileErrorTests {
    func compileError(_ schema: JSONValue) -> SchemaCompileError? {
        do {
            _ = try CompiledSchema(compiling: schema)
            return nil
        } catch {
            return error
        }
    }

    @Test func rejectsAnInvalidPattern() {
        let error = compileError(["properties": ["symbol": ["pattern": "^(abc"]]])
        #expect(error?.code == .invalidPattern)
        #expect(error?.schemaLocation == "#/properties/symbol/pattern")
        #expect(error?.description.contains("#/properties/symbol/pattern") == true)
    }

    @Test func rejectsPatternsOutsideECMAScript() {
        #expect(compileError(["pattern": "(?i)abc"])?.code == .invalidPattern)
        #expect(compileError(["patternProperties": [#"\a"#: true]])?.schemaLocation == #"#/patternProperties/\a"#)
    }

    @Test func rejectsSchemasThatAreNotObjects() {
        #expect(compileError(42)?.code == .notASchema)
        let nested = compileError(["items": ["type": "string"], "allOf": [["type": "string"], "oops"]])
        #expect(nested?.code == .notASchema)
        #expect(nested?.schemaLocation == "#/allOf/1")
    }

    @Test func rejectsKeywordsWithWrongValues() {
        #expect(compileError(["minLength": -1])?.code == .invalidKeywordValue)
        #expect(compileError(["type": "strin"])?.schemaLocation == "#/type")
        #expect(compileError(["required": [1]])?.code == .invalidKeywordValue)
        #expect(compileError(["multipleOf": 0])?.code == .invalidKeywordValue)
    }

    @Test func rejectsUnresolvableReferences() {
        let error = compileError(["properties": ["a": ["$ref": "#/definitions/missing"]]])
        #expect(error?.code == .unresolvedReference)
        #expect(error?.schemaLocation == "#/properties/a")
        #expect(compileError(["$ref": "http://elsewhere.example/schema.json"])?.code == .unresolvedReference)
    }
}
