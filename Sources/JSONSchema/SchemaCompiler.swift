/// Turns a schema document, and the documents it references, into ``SchemaNode``s.
///
/// Every schema position is known by its canonical location, `document#pointer`; a location compiles
/// once, so recursive references become cycles between node indices instead of infinite compilation.
struct SchemaCompiler {
    private(set) var nodes: [SchemaNode] = []
    private var nodeIndices: [String: Int] = [:]
    private var values: [String: JSONValue] = [:]
    private var bases: [String: String] = [:]
    private var resources: [String: String] = [:]
    private var anchors: [String: String] = [:]
    private let resolveRemote: (String) -> JSONValue?
    let assertsFormats: Bool

    init(resolveRemote: @escaping (String) -> JSONValue?, assertsFormats: Bool) {
        self.resolveRemote = resolveRemote
        self.assertsFormats = assertsFormats
    }

    /// Registers `root` as the document at `uri` and compiles it; the root node gets index 0.
    mutating func compileRoot(_ root: JSONValue, uri: String) throws(SchemaCompileError) {
        let documentURI = URIReference(uri).withoutFragment.description
        register(root, documentURI: documentURI)
        _ = try node(at: documentURI + "#")
    }

    private static let singleSubschemas: Set<String> = [
        "additionalItems", "additionalProperties", "contains", "propertyNames", "if", "then", "else", "not", "items",
    ]
    private static let subschemaArrays: Set<String> = ["allOf", "anyOf", "oneOf", "items"]
    private static let subschemaMaps: Set<String> = ["properties", "patternProperties", "definitions", "dependencies"]

    private mutating func register(_ root: JSONValue, documentURI: String) {
        resources[documentURI] = documentURI + "#"
        scan(root, location: documentURI + "#", base: documentURI)
    }

    private mutating func scan(_ value: JSONValue, location: String, base: String) {
        values[location] = value
        guard case .object(let object) = value else {
            bases[location] = base
            return
        }
        var base = base
        if object["$ref"] == nil, case .string(let id)? = object["$id"] {
            let resolved = URIReference(id).resolved(against: URIReference(base))
            if let fragment = resolved.fragment, !fragment.isEmpty { anchors[resolved.description] = location }
            if !id.hasPrefix("#") {
                base = resolved.withoutFragment.description
                resources[base] = location
            }
        }
        bases[location] = base
        for (keyword, child) in object.members {
            let childLocation = location + "/" + Self.escape(keyword)
            if Self.singleSubschemas.contains(keyword), child.isSchema {
                scan(child, location: childLocation, base: base)
            } else if Self.subschemaArrays.contains(keyword), case .array(let elements) = child {
                for (index, element) in elements.enumerated() {
                    scan(element, location: childLocation + "/\(index)", base: base)
                }
            } else if Self.subschemaMaps.contains(keyword), case .object(let map) = child {
                for (name, element) in map where element.isSchema {
                    scan(element, location: childLocation + "/" + Self.escape(name), base: base)
                }
            }
        }
    }

    /// The index of the node for the schema at `location`, compiling it on first use.
    mutating func node(at location: String) throws(SchemaCompileError) -> Int {
        if let index = nodeIndices[location] { return index }
        guard let value = values[location] else {
            throw SchemaCompileError(.unresolvedReference, at: location, "no schema at this location")
        }
        let index = nodes.count
        nodes.append(SchemaNode(location: location))
        nodeIndices[location] = index
        nodes[index] = try build(value, location: location, base: bases[location] ?? "")
        return index
    }

    /// The index of the node for a child position, which may not have been scanned (a `$ref` into an
    /// unknown keyword).
    mutating func child(_ value: JSONValue, at location: String, base: String) throws(SchemaCompileError) -> Int {
        if values[location] == nil { scan(value, location: location, base: base) }
        return try node(at: location)
    }

    /// Resolves a `$ref` found at `location` against the base URI in effect there.
    mutating func resolve(_ reference: String, base: String, from location: String) throws(SchemaCompileError) -> Int {
        let target = URIReference(reference).resolved(against: URIReference(base))
        let documentURI = target.withoutFragment.description
        let fragment = Self.percentDecoded(target.fragment ?? "")
        let unresolved = SchemaCompileError(.unresolvedReference, at: location, "cannot resolve $ref \(reference)")
        if !fragment.isEmpty, !fragment.hasPrefix("/") {
            if anchors[target.description] == nil { loadDocument(documentURI) }
            guard let anchored = anchors[target.description] else { throw unresolved }
            return try node(at: anchored)
        }
        if resources[documentURI] == nil { loadDocument(documentURI) }
        guard var targetLocation = resources[documentURI], var value = values[targetLocation] else { throw unresolved }
        var targetBase = bases[targetLocation] ?? documentURI
        for token in fragment.split(separator: "/", omittingEmptySubsequences: false).dropFirst() {
            let name = String(token).replacing("~1", with: "/").replacing("~0", with: "~")
            switch value {
            case .object(let object):
                guard let member = object[name] else { throw unresolved }
                value = member
            case .array(let elements):
                guard let index = Int(name), elements.indices.contains(index) else { throw unresolved }
                value = elements[index]
            default:
                throw unresolved
            }
            targetLocation += "/" + Self.escape(name)
            targetBase = bases[targetLocation] ?? targetBase
        }
        return try child(value, at: targetLocation, base: targetBase)
    }

    private mutating func loadDocument(_ uri: String) {
        if uri == CompiledSchema.draft07MetaSchemaURI {
            register(CompiledSchema.draft07MetaSchema, documentURI: uri)
        } else if let document = resolveRemote(uri) {
            register(document, documentURI: uri)
        }
    }

    static func escape(_ token: String) -> String {
        guard token.contains(where: { $0 == "~" || $0 == "/" }) else { return token }
        return token.replacing("~", with: "~0").replacing("/", with: "~1")
    }

    private static func percentDecoded(_ text: String) -> String {
        guard text.contains("%") else { return text }
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%"), utf8.count >= 2, let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(value)
                utf8.removeFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension JSONValue {
    var isSchema: Bool {
        switch self {
        case .object, .bool: true
        default: false
        }
    }
}
