import Foundation
import JSONSchema

/// Writes one Python module of frozen dataclasses, one per contract, each with the class
/// attribute `SWITCHYARD_CHANNEL`, `to_payload()` and `from_payload()`; nested objects are
/// dataclasses of their own, string enums `Literal` types, and `mypy --strict` accepts the module.
struct PythonGenerator {
    let models: [PayloadModel]

    static let keywords: Set<String> = [
        "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del", "elif", "else",
        "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise",
        "return", "try", "while", "with", "yield",
    ]
    /// Names a field never takes: the class's own attributes and the names its annotations use.
    static let reserved: Set<String> = [
        "SWITCHYARD_CHANNEL", "SWITCHYARD_VERSION", "to_payload", "from_payload", "self", "str", "int", "float", "bool", "list", "dict",
        "Any", "ClassVar", "Final", "Literal", "Mapping", "Self", "dataclass",
    ]

    /// Each named type's class name: the payload types' own names, nested types' names joined to
    /// their parents', unique in the module.
    private let classNames: [[String]: String]

    init(models: [PayloadModel]) {
        self.models = models
        classNames = Codegen.flatTypeNames(models)
    }

    func file() -> String {
        var out = "# " + Codegen.banner(.python, count: models.count) + "\n"
        out += """
            \"\"\"Typed payloads for Switchyard's channel contracts: one frozen dataclass per contract.

            Each class has ``SWITCHYARD_CHANNEL`` (the contract's channel, or its pattern),
            ``SWITCHYARD_VERSION``, ``to_payload()`` (the JSON object, optional members left out when
            they are None) and ``from_payload()``. ``PAYLOAD_TYPES`` maps each contract's channel to its
            class.
            \"\"\"

            from __future__ import annotations

            from collections.abc import Mapping
            from dataclasses import dataclass
            from typing import Any, ClassVar, Final, Literal, Self



            """
        var classes: [String] = []
        for model in models {
            switch model.body {
            case .object(let root):
                // Nested classes first, so that a reader meets each class before its use.
                let nested = Codegen.namedTypes(model).compactMap { type -> ObjectType? in
                    if case .object(let object) = type, object.path != root.path { return object }
                    return nil
                }
                for object in nested.reversed() { classes.append(dataclass(object, model: nil)) }
                classes.append(dataclass(root, model: model))
            case .opaque(let reason):
                classes.append(opaque(model, reason: reason))
            }
        }
        out += classes.joined(separator: "\n\n")
        out += "\n\nPAYLOAD_TYPES: Final[dict[str, type[Any]]] = {\n"
        for model in models { out += "    \(Self.literal(model.contract.channel)): \(model.name),\n" }
        out += "}\n\"\"\"Each contract's payload class, by the contract's channel (a name or a pattern).\"\"\"\n\n"
        out += "__all__ = [\n" + (models.map { "    \(Self.literal($0.name)),\n" } + ["    \"PAYLOAD_TYPES\",\n"]).joined() + "]\n"
        return out
    }

    private func header(_ model: PayloadModel?, name: String, description: String?) -> String {
        var doc = Codegen.lines(description)
        if let model {
            doc = Codegen.lines(model.contract.description)
            if !doc.isEmpty { doc.append("") }
            doc.append(Codegen.origin(of: model.contract).replacingOccurrences(of: "`", with: "``"))
        }
        if doc.isEmpty { doc = ["A nested object."] }
        var out = "@dataclass(frozen=True, kw_only=True)\nclass \(name):\n"
        let escaped = doc.map { $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") }
        if escaped.count == 1 {
            out += "    \"\"\"\(escaped[0])\"\"\"\n\n"
        } else {
            out += "    \"\"\"" + escaped.map { $0.isEmpty ? "" : $0 }.joined(separator: "\n    ").replacingOccurrences(of: "\n    \n", with: "\n\n")
                + "\n    \"\"\"\n\n"
        }
        if let model {
            out += "    SWITCHYARD_CHANNEL: ClassVar[str] = \(Self.literal(model.contract.channel))\n"
            out += "    SWITCHYARD_VERSION: ClassVar[int] = \(model.contract.version)\n\n"
        }
        return out
    }

    private func opaque(_ model: PayloadModel, reason: String) -> String {
        var out = header(model, name: model.name, description: nil)
        out += "    members: dict[str, Any]\n"
        out += "    \"\"\"The payload, any JSON object; the schema checks it when it is published (\(reason)).\"\"\"\n\n"
        out += "    def to_payload(self) -> dict[str, Any]:\n        return dict(self.members)\n\n"
        out += "    @classmethod\n    def from_payload(cls, data: Mapping[str, Any]) -> Self:\n        return cls(members=dict(data))\n"
        return out
    }

    private func fieldNames(_ object: ObjectType) -> [String] {
        Naming.unique(
            object.properties.map { property in
                var name = property.jsonName
                if !Naming.isIdentifier(name) {
                    name = Naming.words(name).joined(separator: "_")
                    if name.isEmpty { name = "field" }
                    if Naming.isDigit(name.unicodeScalars.first!) { name = "_" + name }
                }
                if Self.keywords.contains(name) || Self.reserved.contains(name) { name += "_" }
                return name
            })
    }

    private func dataclass(_ object: ObjectType, model: PayloadModel?) -> String {
        let name = classNames[object.path]!
        var out = header(model, name: name, description: object.description)
        let names = fieldNames(object)
        for (property, field) in zip(object.properties, names) {
            var annotation = typeName(property.type)
            if !property.required && !property.type.admitsNull { annotation += " | None" }
            out += "    \(field): \(annotation)\(property.required ? "" : " = None")\n"
            var doc = Codegen.lines(property.description)
            if case .json(let reason) = property.type.nonNull { doc.append("Any JSON value (\(reason)); the schema checks it.") }
            if !doc.isEmpty {
                out += "    \"\"\"" + doc.joined(separator: " ").replacingOccurrences(of: "\\", with: "\\\\")
                    .replacingOccurrences(of: "\"", with: "\\\"") + "\"\"\"\n"
            }
        }
        if object.properties.isEmpty { out += "    pass\n" }
        out += "\n    def to_payload(self) -> dict[str, Any]:\n"
        out += "        \"\"\"The JSON object, members that are None and not required left out.\"\"\"\n"
        out += "        payload: dict[str, Any] = {}\n"
        for (property, field) in zip(object.properties, names) {
            let value = "self.\(field)"
            if property.required {
                out += "        payload[\(Self.literal(property.jsonName))] = \(encode(value, property.type, depth: 0))\n"
            } else {
                out += "        if \(value) is not None:\n"
                out += "            payload[\(Self.literal(property.jsonName))] = \(encode(value, property.type.nonNull, depth: 0))\n"
            }
        }
        out += "        return payload\n\n"
        out += "    @classmethod\n    def from_payload(cls, data: Mapping[str, Any]) -> Self:\n"
        out += "        \"\"\"The value of a JSON object that satisfies the schema (as a received event's data does).\"\"\"\n"
        out += "        return cls(\n"
        for (property, field) in zip(object.properties, names) {
            let key = Self.literal(property.jsonName)
            if property.required {
                out += "            \(field)=\(decode("data[\(key)]", property.type, depth: 0)),\n"
            } else if Self.isPlain(property.type.nonNull) {
                out += "            \(field)=data.get(\(key)),\n"
            } else {
                out += "            \(field)=None if data.get(\(key)) is None else \(decode("data[\(key)]", property.type.nonNull, depth: 0)),\n"
            }
        }
        out += "        )\n"
        return out
    }

    /// Whether values of the type are JSON as they are (no dataclass inside).
    private static func isPlain(_ type: PayloadType) -> Bool {
        switch type {
        case .object: false
        case .array(let inner), .map(let inner), .nullable(let inner): isPlain(inner)
        default: true
        }
    }

    private func encode(_ value: String, _ type: PayloadType, depth: Int) -> String {
        if Self.isPlain(type) { return value }
        let item = "item\(depth)"
        switch type {
        case .object: return "\(value).to_payload()"
        case .array(let inner): return "[\(encode(item, inner, depth: depth + 1)) for \(item) in \(value)]"
        case .map(let inner): return "{key\(depth): \(encode(item, inner, depth: depth + 1)) for key\(depth), \(item) in \(value).items()}"
        case .nullable(let inner): return "None if \(value) is None else \(encode(value, inner, depth: depth))"
        default: return value
        }
    }

    private func decode(_ value: String, _ type: PayloadType, depth: Int) -> String {
        if Self.isPlain(type) { return value }
        let item = "item\(depth)"
        switch type {
        case .object(let object): return "\(classNames[object.path]!).from_payload(\(value))"
        case .array(let inner): return "[\(decode(item, inner, depth: depth + 1)) for \(item) in \(value)]"
        case .map(let inner): return "{key\(depth): \(decode(item, inner, depth: depth + 1)) for key\(depth), \(item) in \(value).items()}"
        case .nullable(let inner): return "None if \(value) is None else \(decode(value, inner, depth: depth))"
        default: return value
        }
    }

    private func typeName(_ type: PayloadType) -> String {
        switch type {
        case .string: "str"
        case .integer: "int"
        case .number: "float"
        case .boolean: "bool"
        case .json: "Any"
        case .array(let inner): "list[\(typeName(inner))]"
        case .map(let inner): "dict[str, \(typeName(inner))]"
        case .object(let object): classNames[object.path]!
        case .enumeration(let enumeration): "Literal[\(enumeration.values.map(Self.literal).joined(separator: ", "))]"
        case .union(let union): union.members.map(typeName).joined(separator: " | ")
        case .nullable(let inner): typeName(inner) + " | None"
        }
    }

    static func literal(_ text: String) -> String {
        Codegen.quoted(text) { value in
            value < 0x20 || value == 0x7f ? "\\x" + (value < 16 ? "0" : "") + String(value, radix: 16) : nil
        }
    }
}
