import Foundation
import JSONSchema

/// Writes `Codable`, `Sendable`, `Equatable` structs conforming to Switchyard's `ChannelPayload`
/// (a contract for one channel) or `ContractPayload` (a pattern contract).
struct SwiftGenerator {
    let models: [PayloadModel]

    static let keywords: Set<String> = [
        "associatedtype", "class", "deinit", "enum", "extension", "fileprivate", "func", "import", "init", "inout", "internal", "let",
        "open", "operator", "private", "precedencegroup", "protocol", "public", "rethrows", "static", "struct", "subscript", "typealias",
        "var", "break", "case", "catch", "continue", "default", "defer", "do", "else", "fallthrough", "for", "guard", "if", "in",
        "repeat", "return", "throw", "switch", "where", "while", "Any", "as", "await", "false", "is", "nil", "self", "Self", "super",
        "throws", "true", "try", "Type", "Protocol", "some", "any",
    ]
    /// Members the protocols and generated code declare; a property so named gets `Value` appended.
    static let reservedMembers: Set<String> = [
        "contractChannel", "contractVersion", "contractSchema", "contractID", "channelName", "jsonValue", "encode", "members", "self",
        "Self", "init", "super", "Type", "Protocol",
    ]
    /// Enum case names the compiler gives meaning to; a case so named gets `Value` appended.
    static let reservedCases: Set<String> = ["self", "Self", "init", "rawValue", "allCases", "Type", "Protocol", "super"]

    func file() -> String {
        var out = "// " + Codegen.banner(.swift, count: models.count) + "\n\n"
        if models.contains(where: usesJSON) { out += "import JSONSchema\n" }
        out += "import Switchyard\n"
        for model in models {
            out += "\n" + payload(model)
        }
        out += """

            /// Every payload type generated in this file, one per contract, in channel order.
            public enum GeneratedContractPayloads {
                /// The types.
                public static var all: [any ContractPayload.Type] {
                    [
            \(models.map { "            \($0.name).self," }.joined(separator: "\n"))
                    ]
                }
            }

            """
        return out
    }

    private func usesJSON(_ model: PayloadModel) -> Bool {
        if case .opaque = model.body { return true }
        return !model.fallbacks.isEmpty || Codegen.namedTypes(model).contains { type in
            guard case .object(let object) = type else { return false }
            return object.properties.contains { Self.containsJSON($0.type) }
        }
    }

    private static func containsJSON(_ type: PayloadType) -> Bool {
        switch type {
        case .json: true
        case .nullable(let inner), .array(let inner), .map(let inner): containsJSON(inner)
        default: false
        }
    }

    // MARK: - Declarations

    private func payload(_ model: PayloadModel) -> String {
        let contract = model.contract
        let conformance = contract.isPattern ? "ContractPayload" : "ChannelPayload"
        var doc = Codegen.lines(contract.description)
        if !doc.isEmpty { doc.append("") }
        doc.append(Codegen.origin(of: contract))
        var members: [String] = [
            "public static let contractChannel = \(Self.literal(contract.channel))",
            "public static let contractVersion = \(contract.version)",
            "public static let contractSchema = \(Self.rawLiteral(contract.schema.serialized()))",
        ]
        var nested: [PayloadType] = []
        switch model.body {
        case .object(let root):
            members += objectMembers(root)
            nested = Codegen.namedTypes(model).filter { Codegen.path(of: $0)?.dropLast().elementsEqual(root.path) == true }
        case .opaque(let reason):
            members += opaqueMembers(reason: reason)
            nested = model.definitions
        }
        let path = [model.name]
        var body = members.joined(separator: "\n\n")
        for type in nested { body += "\n\n" + declaration(type, in: model, parent: path) }
        return Self.docComment(doc) + "public struct \(model.name): \(conformance), Equatable {\n" + Self.indent(body) + "\n}\n"
    }

    private func declaration(_ type: PayloadType, in model: PayloadModel, parent: [String]) -> String {
        switch type {
        case .object(let object):
            let children = Codegen.namedTypes(model).filter { Codegen.path(of: $0)?.dropLast().elementsEqual(object.path) == true }
            var body = objectMembers(object).joined(separator: "\n\n")
            for child in children { body += "\n\n" + declaration(child, in: model, parent: object.path) }
            return Self.docComment(Codegen.lines(object.description)) + "public struct \(object.name): Codable, Sendable, Equatable {\n"
                + Self.indent(body) + "\n}"
        case .enumeration(let enumeration):
            let names = Naming.unique(
                enumeration.values.map { value in
                    let name = Naming.memberName(value)
                    return Self.reservedCases.contains(name) ? name + "Value" : name
                })
            let cases = zip(enumeration.values, names).map { value, name in
                let escaped = Self.identifier(name)
                return name == value ? "case \(escaped)" : "case \(escaped) = \(Self.literal(value))"
            }
            return "public enum \(enumeration.name): String, Codable, Sendable, Equatable, CaseIterable {\n"
                + Self.indent(cases.joined(separator: "\n")) + "\n}"
        case .union(let union):
            return unionDeclaration(union)
        default:
            return ""
        }
    }

    private func unionDeclaration(_ union: UnionType) -> String {
        let cases = union.members.map { member -> (name: String, type: String) in
            switch member {
            case .string: ("string", "String")
            case .integer: ("integer", "Int")
            case .number: ("number", "Double")
            default: ("boolean", "Bool")
            }
        }
        // Booleans first, then integers before numbers, strings last: each decode fails on the others' JSON.
        let order = ["boolean", "integer", "number", "string"].compactMap { name in cases.first { $0.name == name } }
        let described = cases.map(\.name).joined(separator: " or ")
        var body = cases.map { "case \($0.name)(\($0.type))" }.joined(separator: "\n")
        body += "\n\npublic init(from decoder: any Decoder) throws {\n    let container = try decoder.singleValueContainer()\n"
        for item in order {
            body += "    if let value = try? container.decode(\(item.type).self) {\n        self = .\(item.name)(value)\n        return\n    }\n"
        }
        body += "    throw DecodingError.typeMismatch(\n"
        body += "        \(union.name).self, .init(codingPath: decoder.codingPath, debugDescription: \(Self.literal("expected \(described)"))))\n}"
        body += "\n\npublic func encode(to encoder: any Encoder) throws {\n    var container = encoder.singleValueContainer()\n    switch self {\n"
        for item in cases { body += "    case .\(item.name)(let value): try container.encode(value)\n" }
        body += "    }\n}"
        return "/// One of: \(described).\npublic enum \(union.name): Codable, Sendable, Equatable {\n" + Self.indent(body) + "\n}"
    }

    private func opaqueMembers(reason: String) -> [String] {
        [
            "/// The payload, any JSON object; the schema checks it when it is published (\(reason)).\npublic var members: [String: JSONValue]",
            "/// Creates a payload from its members.\npublic init(_ members: [String: JSONValue]) {\n    self.members = members\n}",
            "public init(from decoder: any Decoder) throws {\n    members = try decoder.singleValueContainer().decode([String: JSONValue].self)\n}",
            "public func encode(to encoder: any Encoder) throws {\n    var container = encoder.singleValueContainer()\n    try container.encode(members)\n}",
        ]
    }

    private struct Member {
        var property: Property
        var name: String
        var type: String
        /// The Swift type is `T?`.
        var optional: Bool
    }

    private func members(of object: ObjectType) -> [Member] {
        let names = Naming.unique(
            object.properties.map { property in
                let name = Naming.memberName(property.jsonName)
                return Self.reservedMembers.contains(name) ? name + "Value" : name
            })
        return zip(object.properties, names).map { property, name in
            let base = typeName(property.type.nonNull, from: object.path)
            let json = { if case .json = property.type { true } else { false } }()
            let optional = !json && (!property.required || property.type.admitsNull)
            return Member(property: property, name: name, type: base, optional: optional || (json && !property.required))
        }
    }

    private func objectMembers(_ object: ObjectType) -> [String] {
        let members = members(of: object)
        var result: [String] = []
        for member in members {
            var doc = Codegen.lines(member.property.description)
            if case .json(let reason) = member.property.type.nonNull {
                if !doc.isEmpty { doc.append("") }
                doc.append("Any JSON value: \(reason); the schema checks it when the payload is published.")
            }
            result.append(Self.docComment(doc) + "public var \(Self.identifier(member.name)): \(member.type)\(member.optional ? "?" : "")")
        }
        let parameters = members.map { member in
            "\(Self.identifier(member.name)): \(member.type)\(member.optional ? "?" : "")\(member.property.required ? "" : " = nil")"
        }
        var initializer = "/// Creates a value.\npublic init(" + parameters.joined(separator: ", ") + ") {\n"
        for member in members {
            initializer += "    self.\(Self.identifier(member.name)) = \(Self.identifier(member.name))\n"
        }
        result.append(initializer + "}")
        let keys = members.map { member in
            member.name == member.property.jsonName
                ? "case \(Self.identifier(member.name))" : "case \(Self.identifier(member.name)) = \(Self.literal(member.property.jsonName))"
        }
        result.append("private enum CodingKeys: String, CodingKey {\n" + Self.indent(keys.joined(separator: "\n")) + "\n}")
        var decode = "public init(from decoder: any Decoder) throws {\n    let container = try decoder.container(keyedBy: CodingKeys.self)\n"
        var encode = "public func encode(to encoder: any Encoder) throws {\n    var container = encoder.container(keyedBy: CodingKeys.self)\n"
        for member in members {
            let name = Self.identifier(member.name)
            if !member.property.required {
                decode += "    \(name) = try container.decodeIfPresent(\(member.type).self, forKey: .\(name))\n"
                encode += "    try container.encodeIfPresent(\(name), forKey: .\(name))\n"
            } else if member.optional {
                // Required but nullable: the member must be there, and null is written out.
                decode += "    \(name) = try container.decode(\(member.type)?.self, forKey: .\(name))\n"
                encode += "    try container.encode(\(name), forKey: .\(name))\n"
            } else {
                decode += "    \(name) = try container.decode(\(member.type).self, forKey: .\(name))\n"
                encode += "    try container.encode(\(name), forKey: .\(name))\n"
            }
        }
        result.append(decode + "}")
        result.append(encode + "}")
        return result
    }

    /// The Swift spelling of a type used inside the type at `scope`.
    private func typeName(_ type: PayloadType, from scope: [String]) -> String {
        switch type {
        case .string: return "String"
        case .integer: return "Int"
        case .number: return "Double"
        case .boolean: return "Bool"
        case .json: return "JSONValue"
        case .array(let item): return "[\(element(item, from: scope))]"
        case .map(let value): return "[String: \(element(value, from: scope))]"
        case .nullable(let inner): return typeName(inner, from: scope)
        case .object, .enumeration, .union:
            let path = Codegen.path(of: type)!
            // A type nested right here is named alone; any other by its full path, which no nested name can hide.
            return path.dropLast().elementsEqual(scope) ? path.last! : path.joined(separator: ".")
        }
    }

    /// An element type: `T?` when it admits `null`.
    private func element(_ type: PayloadType, from scope: [String]) -> String {
        if case .nullable(let inner) = type { return typeName(inner, from: scope) + "?" }
        return typeName(type, from: scope)
    }

    // MARK: - Text

    static func identifier(_ name: String) -> String {
        keywords.contains(name) ? "`\(name)`" : name
    }

    static func literal(_ text: String) -> String {
        Codegen.quoted(text) { value in value < 0x20 ? "\\u{\(String(value, radix: 16))}" : nil }
    }

    /// A raw string literal (`#"…"#`) with enough `#` that nothing inside ends it or interpolates.
    static func rawLiteral(_ text: String) -> String {
        var hashes = "#"
        while text.contains("\"" + hashes) || text.contains("\\" + hashes) { hashes += "#" }
        return hashes + "\"" + text + "\"" + hashes
    }

    static func docComment(_ lines: [String]) -> String {
        lines.map { $0.isEmpty ? "///\n" : "/// \($0)\n" }.joined()
    }

    static func indent(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : "    " + $0 }.joined(separator: "\n")
    }
}
