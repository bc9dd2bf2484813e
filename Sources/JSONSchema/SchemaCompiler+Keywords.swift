extension SchemaCompiler {
    /// Compiles one schema object or Boolean into a node; subschemas compile through ``child(_:at:base:)``.
    mutating func build(_ value: JSONValue, location: String, base: String) throws(SchemaCompileError) -> SchemaNode {
        var node = SchemaNode(location: location)
        let schema: JSONObject
        switch value {
        case .bool(true): return node
        case .bool(false):
            node.general = [.never]
            return node
        case .object(let object): schema = object
        default: throw SchemaCompileError(.notASchema, at: location, "a schema must be an object or a Boolean")
        }
        if let reference = schema["$ref"] {
            guard case .string(let text) = reference else { throw invalid(location, "$ref", "must be a string") }
            node.general = [.reference(try resolve(text, base: base, from: location))]
            return node
        }
        var propertyNames: [String] = []
        var propertyNodes: [Int] = []
        var patterns: [(RegexPattern, Int)] = []
        var additional: Int?
        var required: [String] = []
        var needsProperties = false
        var items: JSONValue?
        var condition: (if: Int?, then: Int?, else: Int?) = (nil, nil, nil)
        for (keyword, argument) in schema.members {
            let at = location + "/" + Self.escape(keyword)
            func sub() throws(SchemaCompileError) -> Int { try subschema(argument, at: at, base: base) }
            switch keyword {
            case "type":
                node.types = try types(argument, at)
            case "enum":
                guard case .array(let values) = argument else { throw invalid(at, keyword, "must be an array") }
                node.general.append(.enumeration(values))
            case "const":
                node.general.append(.constant(argument))
            case "allOf", "anyOf", "oneOf":
                guard case .array(let elements) = argument, !elements.isEmpty else {
                    throw invalid(at, keyword, "must be a non-empty array of schemas")
                }
                var targets: [Int] = []
                for (index, element) in elements.enumerated() {
                    targets.append(try subschema(element, at: at + "/\(index)", base: base))
                }
                node.general.append(keyword == "allOf" ? .allOf(targets) : keyword == "anyOf" ? .anyOf(targets) : .oneOf(targets))
            case "not": node.general.append(.not(try sub()))
            case "if": condition.if = try sub()
            case "then": condition.then = try sub()
            case "else": condition.else = try sub()
            case "multipleOf":
                guard let divisor = SchemaNumber(argument), divisor.double > 0 else {
                    throw invalid(at, keyword, "must be a number greater than 0")
                }
                node.numeric.append(.multipleOf(divisor))
            case "minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum":
                guard let limit = SchemaNumber(argument) else { throw invalid(at, keyword, "must be a number") }
                let kinds: [String: NumericBound.Kind] = [
                    "minimum": .minimum, "exclusiveMinimum": .exclusiveMinimum,
                    "maximum": .maximum, "exclusiveMaximum": .exclusiveMaximum,
                ]
                node.numeric.append(.bound(NumericBound(kind: kinds[keyword]!, limit: limit)))
            case "minLength": node.string.append(.minLength(try count(argument, at, keyword)))
            case "maxLength": node.string.append(.maxLength(try count(argument, at, keyword)))
            case "pattern":
                guard case .string(let source) = argument else { throw invalid(at, keyword, "must be a string") }
                node.string.append(.pattern(try pattern(source, at)))
            case "format":
                guard case .string(let name) = argument else { throw invalid(at, keyword, "must be a string") }
                if assertsFormats, let format = StringFormat.named(name) { node.string.append(.format(format)) }
            case "items":
                items = argument
            case "minItems": node.array.append(.minItems(try count(argument, at, keyword)))
            case "maxItems": node.array.append(.maxItems(try count(argument, at, keyword)))
            case "uniqueItems":
                guard case .bool(let unique) = argument else { throw invalid(at, keyword, "must be a Boolean") }
                if unique { node.array.append(.uniqueItems) }
            case "contains": node.array.append(.contains(try sub()))
            case "minProperties": node.object.append(.minProperties(try count(argument, at, keyword)))
            case "maxProperties": node.object.append(.maxProperties(try count(argument, at, keyword)))
            case "propertyNames": node.object.append(.propertyNames(try sub()))
            case "required":
                guard case .array(let names) = argument, names.allSatisfy({ $0.stringValue != nil }) else {
                    throw invalid(at, keyword, "must be an array of strings")
                }
                required = names.map { $0.stringValue! }
                needsProperties = needsProperties || !names.isEmpty
            case "properties":
                guard case .object(let map) = argument else { throw invalid(at, keyword, "must be an object of schemas") }
                for (name, element) in map {
                    propertyNames.append(name)
                    propertyNodes.append(try subschema(element, at: at + "/" + Self.escape(name), base: base))
                }
                needsProperties = needsProperties || !map.isEmpty
            case "patternProperties":
                guard case .object(let map) = argument else { throw invalid(at, keyword, "must be an object of schemas") }
                for (source, element) in map {
                    let elementLocation = at + "/" + Self.escape(source)
                    patterns.append(
                        (try pattern(source, elementLocation), try subschema(element, at: elementLocation, base: base)))
                }
                needsProperties = needsProperties || !map.isEmpty
            case "additionalProperties":
                additional = try sub()
                needsProperties = true
            case "dependencies":
                node.object.append(.dependencies(try dependencies(argument, at, base)))
            default:
                break
            }
        }
        if let items {
            try addItems(items, additional: schema["additionalItems"], to: &node, location: location, base: base)
        }
        if let test = condition.if, condition.then != nil || condition.else != nil {
            node.general.append(.conditional(if: test, then: condition.then, else: condition.else))
        }
        if needsProperties {
            let properties = PropertiesCheck(
                names: propertyNames, nodes: propertyNodes, patterns: patterns, additional: additional, required: required)
            node.object.insert(.properties(properties), at: 0)
        }
        return node
    }

    private mutating func subschema(_ value: JSONValue, at location: String, base: String) throws(SchemaCompileError) -> Int {
        guard value.isSchema else { throw SchemaCompileError(.notASchema, at: location, "a schema must be an object or a Boolean") }
        return try child(value, at: location, base: base)
    }

    private mutating func addItems(
        _ items: JSONValue, additional: JSONValue?, to node: inout SchemaNode, location: String, base: String
    ) throws(SchemaCompileError) {
        let at = location + "/items"
        guard case .array(let elements) = items else {
            node.array.insert(.items(try subschema(items, at: at, base: base)), at: 0)
            return
        }
        var targets: [Int] = []
        for (index, element) in elements.enumerated() {
            targets.append(try subschema(element, at: at + "/\(index)", base: base))
        }
        let rest = try additional.map { value throws(SchemaCompileError) in
            try subschema(value, at: location + "/additionalItems", base: base)
        }
        node.array.insert(.tuple(targets, additional: rest), at: 0)
    }

    private mutating func dependencies(_ argument: JSONValue, _ at: String, _ base: String) throws(SchemaCompileError) -> [(String, Dependency)] {
        guard case .object(let map) = argument else { throw invalid(at, "dependencies", "must be an object") }
        var result: [(String, Dependency)] = []
        for (name, value) in map {
            if case .array(let names) = value {
                guard names.allSatisfy({ $0.stringValue != nil }) else {
                    throw invalid(at, "dependencies", "\(name) must be an array of strings or a schema")
                }
                result.append((name, .properties(names.map { $0.stringValue! })))
            } else {
                result.append((name, .schema(try subschema(value, at: at + "/" + Self.escape(name), base: base))))
            }
        }
        return result
    }

    private func types(_ argument: JSONValue, _ at: String) throws(SchemaCompileError) -> TypeSet {
        let names: [JSONValue]
        switch argument {
        case .string: names = [argument]
        case .array(let elements): names = elements
        default: throw invalid(at, "type", "must be a type name or an array of type names")
        }
        var set: TypeSet = []
        for name in names {
            guard let type = TypeSet.names.first(where: { $0.0 == name.stringValue })?.1 else {
                throw invalid(at, "type", "\(Reason.display(name)) is not a JSON Schema type")
            }
            set.insert(type)
        }
        return set
    }

    private func count(_ argument: JSONValue, _ at: String, _ keyword: String) throws(SchemaCompileError) -> Int {
        switch argument {
        case .int(let value) where value >= 0: return Int(value)
        case .double(let value) where value >= 0 && value.rounded() == value: return Int(min(value, 1e18))
        default: throw invalid(at, keyword, "must be a non-negative integer")
        }
    }

    private func pattern(_ source: String, _ at: String) throws(SchemaCompileError) -> RegexPattern {
        guard let compiled = RegexPattern(source) else {
            throw SchemaCompileError(.invalidPattern, at: at, "\(source) is not a valid ECMA-262 regular expression")
        }
        return compiled
    }

    private func invalid(_ at: String, _ keyword: String, _ detail: String) -> SchemaCompileError {
        SchemaCompileError(.invalidKeywordValue, at: at, "\(keyword) \(detail)")
    }
}
