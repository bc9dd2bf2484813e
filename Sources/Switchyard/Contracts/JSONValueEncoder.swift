import JSONSchema

/// Encodes an `Encodable` value straight to a ``JSONValue``, keeping object members in the order
/// they are encoded: a generated payload's members go on the wire in the schema's order, the same
/// in every process (Foundation's `JSONEncoder` orders them by hash unless told to sort them).
///
/// A number that JSON cannot hold (infinite or NaN) throws `EncodingError.invalidValue` with its
/// coding path.
struct JSONValueEncoder {
    func encode(_ value: some Encodable) throws -> JSONValue {
        let root = Node()
        try value.encode(to: NodeEncoder(node: root, codingPath: []))
        return root.value
    }

    /// A value being built.
    final class Node {
        enum Content {
            case empty
            case value(JSONValue)
            case object([(key: String, node: Node)])
            case array([Node])
        }

        var content: Content = .empty

        var value: JSONValue {
            switch content {
            case .empty: .object(JSONObject())
            case .value(let value): value
            case .object(let members): .object(JSONObject(members.map { (key: $0.key, value: $0.node.value) }))
            case .array(let nodes): .array(nodes.map(\.value))
            }
        }

        /// The member `key`, made (or replaced) at the end of the object; the node becomes an object.
        func member(_ key: String) -> Node {
            var members: [(key: String, node: Node)] = []
            if case .object(let existing) = content { members = existing }
            let child = Node()
            if let index = members.firstIndex(where: { $0.key == key }) { members[index].node = child } else { members.append((key, child)) }
            content = .object(members)
            return child
        }

        /// A new element at the end of the array; the node becomes an array.
        func element() -> Node {
            var nodes: [Node] = []
            if case .array(let existing) = content { nodes = existing }
            let child = Node()
            nodes.append(child)
            content = .array(nodes)
            return child
        }

        func makeObject() {
            if case .object = content { return }
            content = .object([])
        }

        func makeArray() {
            if case .array = content { return }
            content = .array([])
        }

        var count: Int {
            switch content {
            case .array(let nodes): nodes.count
            case .object(let members): members.count
            default: 0
            }
        }
    }

    struct IndexKey: CodingKey {
        let intValue: Int?
        let stringValue: String
        init(_ index: Int) {
            intValue = index
            stringValue = String(index)
        }
        init?(intValue: Int) { self.init(intValue) }
        init?(stringValue: String) { nil }
    }

    struct NodeEncoder: Encoder {
        let node: Node
        let codingPath: [any CodingKey]
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
            node.makeObject()
            return KeyedEncodingContainer(Keyed<Key>(node: node, codingPath: codingPath))
        }

        func unkeyedContainer() -> any UnkeyedEncodingContainer {
            node.makeArray()
            return Unkeyed(node: node, codingPath: codingPath)
        }

        func singleValueContainer() -> any SingleValueEncodingContainer {
            Single(node: node, codingPath: codingPath)
        }
    }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let node: Node
        let codingPath: [any CodingKey]

        mutating func encodeNil(forKey key: Key) throws {
            node.member(key.stringValue).content = .value(.null)
        }

        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            try value.encode(to: NodeEncoder(node: node.member(key.stringValue), codingPath: codingPath + [key]))
        }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            NodeEncoder(node: node.member(key.stringValue), codingPath: codingPath + [key]).container(keyedBy: keyType)
        }

        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            NodeEncoder(node: node.member(key.stringValue), codingPath: codingPath + [key]).unkeyedContainer()
        }

        mutating func superEncoder() -> any Encoder {
            NodeEncoder(node: node.member("super"), codingPath: codingPath)
        }

        mutating func superEncoder(forKey key: Key) -> any Encoder {
            NodeEncoder(node: node.member(key.stringValue), codingPath: codingPath + [key])
        }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let node: Node
        let codingPath: [any CodingKey]
        var count: Int { node.count }

        private func next() -> (Node, [any CodingKey]) {
            let path = codingPath + [IndexKey(node.count)]
            return (node.element(), path)
        }

        mutating func encodeNil() throws {
            next().0.content = .value(.null)
        }

        mutating func encode<T: Encodable>(_ value: T) throws {
            let (child, path) = next()
            try value.encode(to: NodeEncoder(node: child, codingPath: path))
        }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            let (child, path) = next()
            return NodeEncoder(node: child, codingPath: path).container(keyedBy: keyType)
        }

        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            let (child, path) = next()
            return NodeEncoder(node: child, codingPath: path).unkeyedContainer()
        }

        mutating func superEncoder() -> any Encoder {
            let (child, path) = next()
            return NodeEncoder(node: child, codingPath: path)
        }
    }

    struct Single: SingleValueEncodingContainer {
        let node: Node
        let codingPath: [any CodingKey]

        mutating func encodeNil() throws { node.content = .value(.null) }
        mutating func encode(_ value: Bool) throws { node.content = .value(.bool(value)) }
        mutating func encode(_ value: String) throws { node.content = .value(.string(value)) }
        mutating func encode(_ value: Double) throws { try number(value) }
        mutating func encode(_ value: Float) throws { try number(Double(value)) }
        mutating func encode(_ value: Int) throws { node.content = .value(.int(Int64(value))) }
        mutating func encode(_ value: Int8) throws { node.content = .value(.int(Int64(value))) }
        mutating func encode(_ value: Int16) throws { node.content = .value(.int(Int64(value))) }
        mutating func encode(_ value: Int32) throws { node.content = .value(.int(Int64(value))) }
        mutating func encode(_ value: Int64) throws { node.content = .value(.int(value)) }
        mutating func encode(_ value: UInt) throws { try unsigned(UInt64(value)) }
        mutating func encode(_ value: UInt8) throws { node.content = .value(.int(Int64(value))) }
        mutating func encode(_ value: UInt16) throws { node.content = .value(.int(Int64(value))) }
        mutating func encode(_ value: UInt32) throws { node.content = .value(.int(Int64(value))) }
        mutating func encode(_ value: UInt64) throws { try unsigned(value) }

        mutating func encode<T: Encodable>(_ value: T) throws {
            try value.encode(to: NodeEncoder(node: node, codingPath: codingPath))
        }

        private func number(_ value: Double) throws {
            guard value.isFinite else {
                throw EncodingError.invalidValue(
                    value, EncodingError.Context(codingPath: codingPath, debugDescription: "\(value) is not a number JSON can hold"))
            }
            node.content = .value(.double(value))
        }

        private func unsigned(_ value: UInt64) throws {
            node.content = .value(value <= UInt64(Int64.max) ? .int(Int64(value)) : .double(Double(value)))
        }
    }
}
