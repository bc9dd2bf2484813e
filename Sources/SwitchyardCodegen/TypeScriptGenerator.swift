import Foundation
import JSONSchema

/// Writes TypeScript declarations: an interface per contract (and per nested object), string
/// enums as unions of string literals, `ChannelPayloads` from each channel name to its payload,
/// `ChannelPatternPayloads` from each pattern, and `PayloadFor<C>`, which resolves a channel
/// name as the contract registry does.
struct TypeScriptGenerator {
    let models: [PayloadModel]
    private let interfaceNames: [[String]: String]

    init(models: [PayloadModel]) {
        self.models = models
        interfaceNames = Codegen.flatTypeNames(models)
    }

    func file() -> String {
        var out = "// " + Codegen.banner(.typescript, count: models.count) + "\n"
        for model in models {
            var doc = Codegen.lines(model.contract.description)
            if !doc.isEmpty { doc.append("") }
            doc.append(Codegen.origin(of: model.contract))
            switch model.body {
            case .object(let root):
                out += "\n" + interface(root, doc: doc)
                for type in Codegen.namedTypes(model) {
                    if case .object(let object) = type, object.path != root.path {
                        out += "\n" + interface(object, doc: Codegen.lines(object.description))
                    }
                }
            case .opaque(let reason):
                doc.append("Any JSON object: \(reason); the schema checks it when it is published.")
                out += "\n" + Self.docComment(doc, indent: "") + "export type \(model.name) = { [member: string]: unknown };\n"
            }
        }
        let exact = models.filter { !$0.contract.isPattern }
        let patterns = models.filter(\.contract.isPattern)
        out += "\n/** Each channel's payload type, by channel name (contracts for one channel). */\nexport interface ChannelPayloads {\n"
        for model in exact { out += "  \(Self.literal(model.contract.channel)): \(model.name);\n" }
        out += "}\n"
        out += "\n/** The payload types of pattern contracts, by pattern. */\nexport interface ChannelPatternPayloads {\n"
        for model in patterns { out += "  \(Self.literal(model.contract.channel)): \(model.name);\n" }
        out += "}\n"
        // Resolution order of the contract registry: the exact name, then patterns by longest literal
        // prefix, longer pattern, and byte order.
        let ordered = patterns.sorted { a, b in
            let (pa, pb) = (Self.literalPrefix(a.contract.channel), Self.literalPrefix(b.contract.channel))
            if pa.utf8.count != pb.utf8.count { return pa.utf8.count > pb.utf8.count }
            if a.contract.channel.utf8.count != b.contract.channel.utf8.count { return a.contract.channel.utf8.count > b.contract.channel.utf8.count }
            return Array(a.contract.channel.utf8).lexicographicallyPrecedes(b.contract.channel.utf8)
        }
        out += """

            /**
             * The payload type of a channel, resolved as Switchyard resolves contracts: the channel's own
             * contract, else the matching pattern with the longest literal prefix. Glob classes (`?`,
             * `[...]`) match any text here; `unknown` when no contract matches.
             */
            export type PayloadFor<C extends string> = C extends keyof ChannelPayloads
              ? ChannelPayloads[C]

            """
        for model in ordered {
            out += "  : C extends \(Self.template(model.contract.channel))\n  ? \(model.name)\n"
        }
        out += "  : unknown;\n"
        return out
    }

    private func interface(_ object: ObjectType, doc: [String]) -> String {
        var out = Self.docComment(doc, indent: "") + "export interface \(interfaceNames[object.path]!) {\n"
        for property in object.properties {
            var doc = Codegen.lines(property.description)
            if case .json(let reason) = property.type.nonNull { doc.append("Any JSON value (\(reason)); the schema checks it.") }
            out += Self.docComment(doc, indent: "  ")
            let key = Naming.isIdentifier(property.jsonName) ? property.jsonName : Self.literal(property.jsonName)
            out += "  \(key)\(property.required ? "" : "?"): \(typeName(property.type));\n"
        }
        // Payloads are open unless the schema closes them: members it does not declare may come too.
        if !object.isClosed { out += "  [member: string]: unknown;\n" }
        return out + "}\n"
    }

    private func typeName(_ type: PayloadType) -> String {
        switch type {
        case .string: "string"
        case .integer, .number: "number"
        case .boolean: "boolean"
        case .json: "unknown"
        case .array(let inner): inner.isCompound ? "Array<\(typeName(inner))>" : "\(typeName(inner))[]"
        case .map(let inner): "{ [member: string]: \(typeName(inner)) }"
        case .object(let object): interfaceNames[object.path]!
        case .enumeration(let enumeration): enumeration.values.map(Self.literal).joined(separator: " | ")
        case .union(let union): union.members.map(typeName).joined(separator: " | ")
        case .nullable(let inner): typeName(inner) + " | null"
        }
    }

    /// The part of a pattern before its first glob character.
    static func literalPrefix(_ pattern: String) -> String {
        String(pattern.prefix { !"*?[]^\\".contains($0) })
    }

    /// A template literal type for a glob: `trades:*` → `` `trades:${string}` ``.
    static func template(_ pattern: String) -> String {
        var out = "`"
        var characters = Array(pattern)[...]
        var lastWasWildcard = false
        while let character = characters.popFirst() {
            switch character {
            case "*", "?":
                if !lastWasWildcard { out += "${string}" }
                lastWasWildcard = true
                continue
            case "[":
                while let next = characters.popFirst(), next != "]" {}
                if !lastWasWildcard { out += "${string}" }
                lastWasWildcard = true
                continue
            case "\\":
                if let next = characters.popFirst() { out += escapeTemplate(next) }
            default:
                out += escapeTemplate(character)
            }
            lastWasWildcard = false
        }
        return out + "`"
    }

    private static func escapeTemplate(_ character: Character) -> String {
        switch character {
        case "`", "\\", "$": "\\" + String(character)
        default: String(character)
        }
    }

    static func literal(_ text: String) -> String {
        SwiftGenerator.literal(text)
    }

    static func docComment(_ lines: [String], indent: String) -> String {
        guard !lines.isEmpty else { return "" }
        let safe = lines.map { $0.replacingOccurrences(of: "*/", with: "*\\/") }
        if safe.count == 1 { return "\(indent)/** \(safe[0]) */\n" }
        return "\(indent)/**\n" + safe.map { $0.isEmpty ? "\(indent) *\n" : "\(indent) * \($0)\n" }.joined() + "\(indent) */\n"
    }
}

extension PayloadType {
    /// Whether the TypeScript spelling has operators that `[]` would bind to wrongly.
    var isCompound: Bool {
        switch self {
        case .nullable, .union: true
        case .enumeration(let enumeration): enumeration.values.count > 1
        default: false
        }
    }
}
