import JSONSchema
import Testing

@Suite struct ValidationTests {
    static let orderSchema: JSONValue = try! JSONValue(parsing: #"""
        {
          "type": "object",
          "required": ["order", "legs", "timestamp"],
          "properties": {
            "order": {
              "type": "object",
              "required": ["symbol", "side", "price"],
              "properties": {
                "symbol": {"type": "string", "pattern": "^[A-Z]+$"},
                "side": {"enum": ["buy", "sell"]},
                "price": {"type": "number", "minimum": 0},
                "quantity": {"type": "integer", "exclusiveMinimum": 0, "multipleOf": 5}
              },
              "additionalProperties": false
            },
            "legs": {
              "type": "array",
              "items": {"type": "object", "required": ["price"], "properties": {"price": {"type": "number"}}}
            },
            "timestamp": {"type": "string", "format": "date-time"}
          }
        }
        """#)

    @Test func acceptsAValidPayload() throws {
        let schema = try CompiledSchema(compiling: Self.orderSchema)
        let payload = try JSONValue(parsing: #"""
            {"order": {"symbol": "AAPL", "side": "buy", "price": 189.5, "quantity": 10},
             "legs": [{"price": 1}], "timestamp": "2026-01-27T10:30:05.123Z"}
            """#)
        #expect(schema.isValid(payload))
        #expect(schema.validate(payload).isEmpty)
        #expect(schema.summarize(payload).isEmpty)
    }

    @Test func reportsLocationsKeywordsAndReasons() throws {
        let schema = try CompiledSchema(compiling: Self.orderSchema)
        let payload = try JSONValue(parsing: #"""
            {"order": {"symbol": "aapl", "side": "hold", "quantity": 7, "note": "x"},
             "legs": [{"price": 1}, {"price": "high"}, {}]}
            """#)
        #expect(!schema.isValid(payload))
        let failures = schema.validate(payload)
        let described = failures.map { "\($0.instanceLocation) \($0.keyword): \($0.missingProperty.map { $0 + " " } ?? "")\($0.reason)" }
        #expect(described == [
            "/order/symbol pattern: must match pattern ^[A-Z]+$",
            "/order/side enum: must be one of: buy, sell",
            "/order/quantity multipleOf: must be a multiple of 5",
            "/order/note additionalProperties: is not allowed",
            "/order required: price is required",
            "/legs/1/price type: must be numeric",
            "/legs/2 required: price is required",
            " required: timestamp is required",
        ])
        #expect(failures[0].schemaLocation == "#/properties/order/properties/symbol/pattern")
        #expect(failures[5].instancePath == [.key("legs"), .index(1), .key("price")])
    }

    @Test func summarizesMissingAndInvalidFields() throws {
        let schema = try CompiledSchema(compiling: Self.orderSchema)
        let payload = try JSONValue(parsing: #"""
            {"order": {"symbol": "aapl", "side": "buy", "price": -1}, "legs": [{"price": "x"}, {}],
             "timestamp": "yesterday"}
            """#)
        let summary = schema.summarize(payload)
        #expect(summary.missingFields == ["legs.1.price"])
        #expect(summary.invalidFields.map(\.field) == ["order.symbol", "order.price", "legs.0.price", "timestamp"])
        #expect(summary.invalidFields.map(\.reason) == [
            "must match pattern ^[A-Z]+$", "must be at least 0", "must be numeric", "must be a valid date-time",
        ])
        let root = try CompiledSchema(compiling: ["type": "object"]).summarize([1, 2])
        #expect(root.invalidFields.map(\.field) == ["$"])
        #expect(root.invalidFields.map(\.reason) == ["must be an object"])
    }

    @Test func alternativesReportOnceAtTheOuterLocation() throws {
        let schema = try CompiledSchema(compiling: try JSONValue(parsing: #"""
            {"properties": {"price": {"anyOf": [{"type": "number"}, {"type": "string", "pattern": "^[0-9.]+$"}]},
                            "kind": {"oneOf": [{"const": "limit"}, {"const": "market"}]}}}
            """#))
        let failures = schema.validate(["price": "abc", "kind": "stop"])
        #expect(failures.map(\.keyword) == ["anyOf", "oneOf"])
        #expect(failures.map(\.instanceLocation) == ["/price", "/kind"])
        #expect(failures[0].reason == "must match at least one of the allowed schemas")
    }

    @Test func comparesNumbersByValue() throws {
        let schema = try CompiledSchema(compiling: ["enum": [1, "a"], "uniqueItems": true])
        #expect(schema.isValid(.double(1.0)))
        #expect(!schema.isValid(.double(1.5)))
        let unique = try CompiledSchema(compiling: ["uniqueItems": true])
        #expect(!unique.isValid([1, 1.0]))
        #expect(unique.isValid([1, true]))
        #expect(!unique.isValid([["a": 1, "b": 2], ["b": 2, "a": 1.0]]))
    }

    @Test func multipleOfToleratesDecimalFractions() throws {
        let tick = try CompiledSchema(compiling: ["multipleOf": 0.01])
        #expect(tick.isValid(189.52))
        #expect(tick.isValid(0.07))
        #expect(!tick.isValid(189.525))
        let small = try CompiledSchema(compiling: ["multipleOf": 0.0001])
        #expect(small.isValid(0.0075))
        #expect(!small.isValid(0.00751))
    }

    @Test func patternsFollowECMAScript() throws {
        let anchored = try CompiledSchema(compiling: ["pattern": "^[A-Z]{1,5}$"])
        #expect(anchored.isValid("AAPL"))
        #expect(!anchored.isValid("AAPL\n"))
        #expect(!anchored.isValid("TOOLONG"))
        let digits = try CompiledSchema(compiling: ["pattern": #"^\d+$"#])
        #expect(digits.isValid("42"))
        #expect(!digits.isValid("৪২"))
        let grouped = try CompiledSchema(compiling: ["pattern": #"^(buy|sell)-\d+$"#])
        #expect(grouped.isValid("buy-12"))
        #expect(!grouped.isValid("buy-12\n"))
        #expect(!grouped.isValid("hold-1"))
        let unanchored = try CompiledSchema(compiling: ["pattern": "c.t"])
        #expect(unanchored.isValid("concat"))
        #expect(!unanchored.isValid("c\nt"))
    }

    @Test func recursiveReferencesTerminate() throws {
        let tree = try CompiledSchema(compiling: try JSONValue(parsing: #"""
            {"$id": "http://example.com/tree", "type": "object",
             "properties": {"children": {"type": "array", "items": {"$ref": "#"}}, "value": {"type": "integer"}}}
            """#))
        #expect(tree.isValid(["value": 1, "children": [["value": 2, "children": []]]]))
        #expect(!tree.isValid(["children": [["value": "x"]]]))
        let loop = try CompiledSchema(compiling: ["$ref": "#"])
        #expect(!loop.isValid(1))
    }

    @Test func remoteReferencesGoThroughTheResolver() throws {
        let remote: JSONValue = ["definitions": ["price": ["type": "number", "minimum": 0]]]
        let schema = try CompiledSchema(compiling: ["properties": ["bid": ["$ref": "prices.json#/definitions/price"]]],
            baseURI: "https://contracts.example/quotes.json"
        ) { uri in uri == "https://contracts.example/prices.json" ? remote : nil }
        #expect(schema.isValid(["bid": 1.5]))
        #expect(!schema.isValid(["bid": -1]))
        let viaMetaSchema = try CompiledSchema(compiling: ["$ref": "http://json-schema.org/draft-07/schema#"])
        #expect(viaMetaSchema.isValid(["type": "string"]))
        #expect(!viaMetaSchema.isValid(["type": "strin"]))
    }

    @Test func lintsSchemasAgainstTheMetaSchema() {
        #expect(CompiledSchema.metaSchemaFailures(of: Self.orderSchema).isEmpty)
        let failures = CompiledSchema.metaSchemaFailures(of: ["properties": ["a": ["minLength": -1]], "required": "a"])
        #expect(failures.map(\.instanceLocation).sorted() == ["/properties/a/minLength", "/required"])
    }

    @Test func formatsCanBeAnnotationsOnly() throws {
        let asserting = try CompiledSchema(compiling: ["format": "date-time"])
        let annotating = try CompiledSchema(compiling: ["format": "date-time"], options: .init(assertsFormats: false))
        #expect(!asserting.isValid("2026-02-30T10:00:00Z"))
        #expect(asserting.isValid("2026-01-27T10:30:05.123Z"))
        #expect(annotating.isValid("2026-02-30T10:00:00Z"))
        #expect(try CompiledSchema(compiling: ["format": "no-such-format"]).isValid("anything"))
    }
}

@Suite struct ConcurrentValidationTests {
    @Test func oneCompiledSchemaServesManyTasks() async throws {
        let schema = try CompiledSchema(compiling: ["type": "object", "required": ["id"], "properties": ["id": ["type": "integer", "minimum": 0]]])
        let results = await withTaskGroup(of: Bool.self) { group in
            for id in 0..<64 {
                group.addTask { schema.isValid(["id": .int(Int64(id % 2 == 0 ? id : -id))]) }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.filter { $0 }.count == 32)
    }
}
