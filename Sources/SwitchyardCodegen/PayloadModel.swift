import Foundation
import JSONSchema

/// The type a schema gives a value, as the generators write it in each language.
public indirect enum PayloadType: Sendable, Equatable {
    /// `"type": "string"`.
    case string
    /// `"type": "integer"`.
    case integer
    /// `"type": "number"`.
    case number
    /// `"type": "boolean"`.
    case boolean
    /// `"type": "array"` with a schema for its `items`.
    case array(PayloadType)
    /// `"type": "object"` without `properties`: a map from member names to values of one type
    /// (its `additionalProperties` schema, else any JSON value).
    case map(PayloadType)
    /// `"type": "object"` with `properties`: a named structure.
    case object(ObjectType)
    /// A string `enum`.
    case enumeration(EnumType)
    /// Several scalar types (`["string", "number"]`).
    case union(UnionType)
    /// A schema that cannot be typed; the value is any JSON value, checked by the schema only.
    case json(reason: String)
    /// A type that also admits `null`.
    case nullable(PayloadType)

    /// The type without `null`.
    public var nonNull: PayloadType {
        if case .nullable(let inner) = self { inner } else { self }
    }

    /// Whether `null` is a value of the type.
    public var admitsNull: Bool {
        switch self {
        case .nullable, .json: true
        default: false
        }
    }
}

/// A named structure: an object schema with `properties`.
public struct ObjectType: Sendable, Equatable {
    /// The name and the names of the types it is nested in, outermost first.
    public var path: [String]
    /// The schema's `description`.
    public var description: String?
    /// The properties, in the order the schema declares them.
    public var properties: [Property]
    /// Whether the schema refuses members it does not declare (`"additionalProperties": false`).
    public var isClosed: Bool = false

    /// The type's own name.
    public var name: String { path.last! }
}

/// One property of an ``ObjectType``.
public struct Property: Sendable, Equatable {
    /// The member name in JSON.
    public var jsonName: String
    /// The value's type.
    public var type: PayloadType
    /// Whether `required` names it.
    public var required: Bool
    /// The property schema's `description`.
    public var description: String?
}

/// A string `enum`.
public struct EnumType: Sendable, Equatable {
    /// The name and the names of the types it is nested in, outermost first.
    public var path: [String]
    /// The values, in the schema's order.
    public var values: [String]
    /// The type's own name.
    public var name: String { path.last! }
}

/// Several scalar types admitted for one value.
public struct UnionType: Sendable, Equatable {
    /// The name and the names of the types it is nested in, outermost first.
    public var path: [String]
    /// The types, from the ones `string`, `integer`, `number` and `boolean`, in that order when
    /// present: a generated decoder tries them in this order.
    public var members: [PayloadType]
    /// The type's own name.
    public var name: String { path.last! }
}

/// The payload type generated for one contract.
public struct PayloadModel: Sendable {
    /// The contract.
    public var contract: CodegenContract
    /// The generated type's name.
    public var name: String
    /// What the payload is.
    public var body: Body
    /// Named types reached through `$ref`, nested in the payload type.
    public var definitions: [PayloadType]
    /// Where the schema could not be typed: `(location, reason)`, a JSON pointer into the schema.
    public var fallbacks: [(location: String, reason: String)]

    /// What a payload type holds.
    public enum Body: Sendable {
        /// An object schema with `properties`.
        case object(ObjectType)
        /// A schema that has no properties to type: the payload is kept as a JSON object.
        case opaque(reason: String)
    }

    /// Builds the model of every contract, with type names unique among them.
    public static func build(_ contracts: [CodegenContract]) -> [PayloadModel] {
        let names = Naming.typeNames(for: contracts)
        return zip(contracts, names).map { contract, name in
            ModelBuilder(contract: contract, name: name).build()
        }
    }
}

/// Turns one contract's schema into a ``PayloadModel``.
final class ModelBuilder {
    private let contract: CodegenContract
    private let name: String
    private var fallbacks: [(location: String, reason: String)] = []
    private var usedNames: [[String]: Set<String>] = [:]
    private var definitions: [PayloadType] = []
    private var resolved: [String: PayloadType] = [:]
    private var resolving: Set<String> = []

    static let scalarTypes = ["string", "integer", "number", "boolean"]

    init(contract: CodegenContract, name: String) {
        self.contract = contract
        self.name = name
    }

    func build() -> PayloadModel {
        let schema = contract.schema
        let body: PayloadModel.Body
        if case .object(let root) = schema, case .object(let properties)? = root["properties"], !properties.isEmpty,
            root["$ref"] == nil, Self.combinator(in: root) == nil
        {
            body = .object(object(root, properties: properties, pointer: "", path: [name]))
        } else {
            let reason = Self.rootReason(schema)
            fallbacks.append(("/", reason))
            body = .opaque(reason: reason)
        }
        return PayloadModel(contract: contract, name: name, body: body, definitions: definitions, fallbacks: fallbacks)
    }

    private static func rootReason(_ schema: JSONValue) -> String {
        guard case .object(let root) = schema else { return "the schema is not an object schema" }
        if root["$ref"] != nil { return "the schema is a $ref" }
        if let keyword = combinator(in: root) { return "the schema uses \(keyword)" }
        return "the schema declares no properties"
    }

    private static func combinator(in schema: JSONObject) -> String? {
        ["allOf", "anyOf", "oneOf", "not", "if"].first { schema[$0] != nil }
    }

    private func fallback(_ pointer: String, _ reason: String) -> PayloadType {
        fallbacks.append((pointer.isEmpty ? "/" : pointer, reason))
        return .json(reason: reason)
    }

    /// A name for a nested type, unique among the types nested in `parent`.
    private func claim(_ suggested: String, in parent: [String]) -> [String] {
        var base = Naming.typeName(suggested)
        if Naming.reservedTypeNames.contains(base) || parent.contains(base) { base += "Value" }
        var used = usedNames[parent, default: []]
        var candidate = base
        var counter = 2
        while used.contains(candidate) || parent.contains(candidate) {
            candidate = "\(base)\(counter)"
            counter += 1
        }
        used.insert(candidate)
        usedNames[parent] = used
        return parent + [candidate]
    }

    private func object(_ schema: JSONObject, properties: JSONObject, pointer: String, path: [String]) -> ObjectType {
        let required = Set(schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        var result = ObjectType(
            path: path, description: schema["description"]?.stringValue, properties: [], isClosed: schema["additionalProperties"] == .bool(false))
        for (key, value) in properties.members {
            let type = self.type(of: value, pointer: "\(pointer)/properties/\(Self.escape(key))", suggested: key, parent: path)
            result.properties.append(
                Property(jsonName: key, type: type, required: required.contains(key), description: value["description"]?.stringValue))
        }
        return result
    }

    /// The type of the value a (sub)schema describes.
    func type(of schema: JSONValue, pointer: String, suggested: String, parent: [String]) -> PayloadType {
        guard case .object(let node) = schema else {
            return fallback(pointer, schema == .bool(false) ? "the schema accepts no value" : "the schema accepts any value")
        }
        if let reference = node["$ref"]?.stringValue { return self.reference(reference, pointer: pointer) }
        if let keyword = Self.combinator(in: node) { return fallback(pointer, "uses \(keyword)") }

        var values: [JSONValue]?
        if let constant = node["const"] { values = [constant] } else if let list = node["enum"]?.arrayValue { values = list }

        var types: [String]
        switch node["type"] {
        case .string(let single)?: types = [single]
        case .array(let list)?: types = list.compactMap(\.stringValue)
        default:
            if let values {
                types = Self.kinds(of: values)
            } else if node["properties"] != nil {
                types = ["object"]
            } else if node["items"] != nil {
                types = ["array"]
            } else {
                return fallback(pointer, "no type")
            }
        }
        let nullable = types.contains("null")
        types.removeAll { $0 == "null" }
        if types.contains("integer") && types.contains("number") { types.removeAll { $0 == "integer" } }
        var seen: Set<String> = []
        types = types.filter { seen.insert($0).inserted }

        let type: PayloadType
        if types.isEmpty {
            return fallback(pointer, nullable ? "only null" : "no type")
        } else if types.count > 1 {
            guard types.allSatisfy(Self.scalarTypes.contains) else {
                return fallback(pointer, "several types: \(types.joined(separator: ", "))")
            }
            let members = Self.scalarTypes.filter(types.contains).map(Self.scalar)
            type = .union(UnionType(path: claim(suggested, in: parent), members: members))
        } else {
            switch types[0] {
            case "string":
                let strings = (values ?? []).filter { $0 != .null }.compactMap(\.stringValue)
                if let values, !strings.isEmpty, strings.count == values.filter({ $0 != .null }).count {
                    var distinct: [String] = []
                    for value in strings where !distinct.contains(value) { distinct.append(value) }
                    type = .enumeration(EnumType(path: claim(suggested, in: parent), values: distinct))
                } else {
                    type = .string
                }
            case "integer": type = .integer
            case "number": type = .number
            case "boolean": type = .boolean
            case "array":
                if let items = node["items"], items.arrayValue == nil {
                    type = .array(self.type(of: items, pointer: pointer + "/items", suggested: suggested + "_item", parent: parent))
                } else if node["items"] != nil {
                    type = .array(fallback(pointer + "/items", "a list of item schemas (a tuple)"))
                } else {
                    type = .array(.json(reason: "the items have no schema"))
                }
            case "object":
                if case .object(let properties)? = node["properties"], !properties.isEmpty {
                    type = .object(object(node, properties: properties, pointer: pointer, path: claim(suggested, in: parent)))
                } else if case .object? = node["additionalProperties"], let additional = node["additionalProperties"] {
                    type = .map(
                        self.type(of: additional, pointer: pointer + "/additionalProperties", suggested: suggested + "_value", parent: parent))
                } else {
                    type = .map(.json(reason: "the members have no schema"))
                }
            default:
                return fallback(pointer, "unknown type '\(types[0])'")
            }
        }
        return nullable ? .nullable(type) : type
    }

    /// A `$ref` to a definition in the same schema (`#/definitions/NAME`, `#/$defs/NAME` or any
    /// JSON pointer), typed once and nested in the payload type under the definition's name.
    private func reference(_ reference: String, pointer: String) -> PayloadType {
        if let known = resolved[reference] { return known }
        guard reference.hasPrefix("#"), !resolving.contains(reference) else {
            return fallback(pointer, reference.hasPrefix("#") ? "a recursive $ref (\(reference))" : "a $ref to another document (\(reference))")
        }
        let tokens = reference.dropFirst().split(separator: "/", omittingEmptySubsequences: true).map {
            String($0).replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
        }
        var target: JSONValue? = contract.schema
        for token in tokens {
            if case .array(let list)? = target, let index = Int(token), list.indices.contains(index) { target = list[index] } else { target = target?[token] }
        }
        guard let target else { return fallback(pointer, "a $ref that resolves to nothing (\(reference))") }
        resolving.insert(reference)
        let type = self.type(of: target, pointer: String(reference.dropFirst()), suggested: tokens.last ?? "Definition", parent: [name])
        resolving.remove(reference)
        resolved[reference] = type
        if Self.isNamed(type) { definitions.append(type) }
        return type
    }

    private static func isNamed(_ type: PayloadType) -> Bool {
        switch type.nonNull {
        case .object, .enumeration, .union: true
        default: false
        }
    }

    private static func kinds(of values: [JSONValue]) -> [String] {
        var kinds: [String] = []
        for value in values {
            let kind: String
            switch value {
            case .null: kind = "null"
            case .bool: kind = "boolean"
            case .int: kind = "integer"
            case .double: kind = "number"
            case .string: kind = "string"
            case .array: kind = "array"
            case .object: kind = "object"
            }
            if !kinds.contains(kind) { kinds.append(kind) }
        }
        return kinds
    }

    private static func scalar(_ name: String) -> PayloadType {
        switch name {
        case "string": .string
        case "integer": .integer
        case "number": .number
        default: .boolean
        }
    }

    private static func escape(_ key: String) -> String {
        key.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
    }
}
