import Foundation
import JSONSchema
import SwitchyardCodegen

/// Contracts made to reach every branch of the generator: names that are keywords or not
/// identifiers, nullable and mixed types, nested objects and arrays of them, maps, enums,
/// `$ref`s, and schemas that cannot be typed.
enum EdgeContracts {
    static let kinds: JSONValue = try! JSONValue(parsing: #"""
        {
          "type": "object",
          "required": ["class", "nullable_required", "nested", "side"],
          "definitions": {
            "Money": {"type": "object", "required": ["amount"], "properties": {"amount": {"type": "number"}, "currency": {"type": "string", "enum": ["USD", "EUR"]}}},
            "Node": {"type": "object", "properties": {"name": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#/definitions/Node"}}}}
          },
          "properties": {
            "class": {"type": "string", "description": "A Swift and Python keyword."},
            "default": {"type": "integer"},
            "self": {"type": "number"},
            "order-id": {"type": "string"},
            "2fa": {"type": "boolean"},
            "nullable_required": {"type": ["integer", "null"]},
            "nullable_optional": {"type": ["string", "null"]},
            "mixed": {"type": ["string", "number", "boolean"]},
            "anything": {"description": "No type at all."},
            "tuple": {"type": "array", "items": [{"type": "string"}]},
            "choice": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            "nested": {"type": "object", "required": ["level"], "properties": {
              "level": {"type": "integer"},
              "inner": {"type": "object", "properties": {"flag": {"type": "boolean"}, "side": {"type": "string", "enum": ["buy", "sell"]}}}
            }},
            "fills": {"type": "array", "items": {"type": "object", "required": ["qty"], "properties": {"qty": {"type": "integer"}, "note": {"type": ["string", "null"]}}}},
            "matrix": {"type": "array", "items": {"type": "array", "items": {"type": ["number", "null"]}}},
            "tags": {"type": "object", "additionalProperties": {"type": "string"}},
            "details": {"type": "object"},
            "side": {"type": "string", "enum": ["buy", "partial_fill", "price.updated", "2x", "default", "Buy"]},
            "level": {"enum": [1, 2, 3]},
            "string": {"type": "string", "enum": ["a", "b"]},
            "price": {"$ref": "#/definitions/Money"},
            "fee": {"$ref": "#/definitions/Money"},
            "tree": {"$ref": "#/definitions/Node"},
            "elsewhere": {"$ref": "other.json#/definitions/Thing"},
            "quote\"d": {"type": "string", "description": "A name with a quote and a backslash \\ in its description */ \"\"\" #\""}
          }
        }
        """#)

    static let contracts: [CodegenContract] = [
        CodegenContract(channel: "edge:kinds", version: 3, description: "Every kind of property.", origin: "Tests", schema: kinds, file: "edge/kinds.json"),
        CodegenContract(channel: "edge:opaque", description: "An object without properties.", schema: ["type": "object"]),
        CodegenContract(channel: "edge:combined", schema: ["allOf": [["type": "object"], ["required": ["a"]]]]),
        CodegenContract(channel: "edge.*", description: "A pattern.", schema: ["type": "object", "properties": ["n": ["type": "integer"]]]),
        CodegenContract(channel: "system:health", origin: "REC.IO", schema: ["type": "object", "properties": ["ok": ["type": "boolean"]]]),
        CodegenContract(channel: "system.health", origin: "OPA", schema: ["type": "object", "properties": ["ok": ["type": "boolean"]]]),
        CodegenContract(channel: "string", schema: ["title": "String", "type": "object", "properties": ["s": ["type": "string"]]]),
    ]

    /// A payload of `edge:kinds` that sets every typed member.
    static let kindsPayload: JSONValue = try! JSONValue(parsing: #"""
        {"class": "c", "default": 1, "self": 1.5, "order-id": "o", "2fa": true, "nullable_required": null, "nullable_optional": "x",
         "mixed": false, "anything": {"any": [1, "two"]}, "tuple": ["t"], "choice": 7,
         "nested": {"level": 2, "inner": {"flag": true, "side": "sell"}},
         "fills": [{"qty": 1, "note": null}, {"qty": 2}], "matrix": [[1.5, null], []], "tags": {"a": "b"}, "details": {"k": [true]},
         "side": "partial_fill", "level": 2, "string": "b", "price": {"amount": 1.25, "currency": "EUR"}, "fee": {"amount": 0.5},
         "tree": {"name": "root", "children": [{"name": "leaf"}]}, "elsewhere": 5, "quote\"d": "q"}
        """#)
}

/// Runs a program and collects what it prints.
func runTool(_ executable: String, _ arguments: [String], in directory: URL? = nil, environment: [String: String]? = nil) throws -> (
    status: Int32, output: String
) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = directory }
    if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// A new empty folder under the system's temporary folder.
func temporaryFolder(_ name: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("switchyard-codegen-\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// The folder of the package, found from this file's path.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
