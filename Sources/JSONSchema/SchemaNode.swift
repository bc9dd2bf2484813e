/// One subschema as the compiler assembles it: its keywords turned into checks, grouped by the
/// instance types they apply to, so validation only switches over prepared values.
struct SchemaNode: Sendable {
    /// The subschema's location, as a URI with a JSON Pointer fragment.
    var location: String
    /// The types `type` allows, or `nil` without a `type` keyword.
    var types: TypeSet?
    /// Checks that apply to every instance (`enum`, `const`, applicators, `$ref`).
    var general: [GeneralCheck] = []
    /// Checks that apply only to numbers.
    var numeric: [NumericCheck] = []
    /// Checks that apply only to strings.
    var string: [StringCheck] = []
    /// Checks that apply only to arrays.
    var array: [ArrayCheck] = []
    /// Checks that apply only to objects.
    var object: [ObjectCheck] = []

    init(location: String) {
        self.location = location
    }

    /// Whether this is the `false` schema, which rejects everything.
    var isFalse: Bool {
        if general.count == 1, case .never = general[0] { true } else { false }
    }
}

/// A ``SchemaNode`` frozen for validation: a class, so that reading a node costs one reference.
final class CompiledNode: Sendable {
    let location: String
    let types: TypeSet?
    let general: [GeneralCheck]
    let numeric: [NumericCheck]
    let string: [StringCheck]
    let array: [ArrayCheck]
    let object: [ObjectCheck]
    let isFalse: Bool

    init(_ node: SchemaNode) {
        location = node.location
        types = node.types
        general = node.general
        numeric = node.numeric
        string = node.string
        array = node.array
        object = node.object
        isFalse = node.isFalse
    }
}

/// The JSON types named by the `type` keyword, as a bit set.
struct TypeSet: OptionSet, Sendable {
    let rawValue: UInt8

    static let null = TypeSet(rawValue: 1)
    static let boolean = TypeSet(rawValue: 2)
    static let integer = TypeSet(rawValue: 4)
    static let number = TypeSet(rawValue: 8)
    static let string = TypeSet(rawValue: 16)
    static let array = TypeSet(rawValue: 32)
    static let object = TypeSet(rawValue: 64)

    static let names: [(String, TypeSet)] = [
        ("null", .null), ("boolean", .boolean), ("integer", .integer), ("number", .number),
        ("string", .string), ("array", .array), ("object", .object),
    ]

    func contains(typeOf value: JSONValue) -> Bool {
        switch value {
        case .null: contains(.null)
        case .bool: contains(.boolean)
        case .int: !isDisjoint(with: [.integer, .number])
        case .double(let number):
            contains(.number) || (contains(.integer) && number.rounded(.towardZero) == number)
        case .string: contains(.string)
        case .array: contains(.array)
        case .object: contains(.object)
        }
    }
}

enum GeneralCheck: Sendable {
    case never
    case reference(Int)
    case enumeration([JSONValue])
    case constant(JSONValue)
    case allOf([Int])
    case anyOf([Int])
    case oneOf([Int])
    case not(Int)
    case conditional(if: Int, then: Int?, else: Int?)
}

/// A number from a schema, kept without references so checks copy for free.
struct SchemaNumber: Sendable {
    let double: Double
    let integer: Int64?

    init?(_ value: JSONValue) {
        switch value {
        case .int(let integer): (self.integer, double) = (integer, Double(integer))
        case .double(let double): (self.integer, self.double) = (nil, double)
        default: return nil
        }
    }

    var json: JSONValue { integer.map(JSONValue.int) ?? .double(double) }
}

/// A numeric bound with its keyword.
struct NumericBound: Sendable {
    enum Kind: Sendable { case minimum, exclusiveMinimum, maximum, exclusiveMaximum }

    var kind: Kind
    var limit: SchemaNumber

    func admits(_ value: JSONValue) -> Bool {
        let order: Int
        if case .int(let a) = value, let b = limit.integer {
            order = a < b ? -1 : a == b ? 0 : 1
        } else {
            let a = value.doubleValue!, b = limit.double
            order = a < b ? -1 : a == b ? 0 : 1
        }
        switch kind {
        case .minimum: return order >= 0
        case .exclusiveMinimum: return order > 0
        case .maximum: return order <= 0
        case .exclusiveMaximum: return order < 0
        }
    }
}

enum NumericCheck: Sendable {
    case bound(NumericBound)
    case multipleOf(SchemaNumber)
}

enum StringCheck: Sendable {
    case minLength(Int)
    case maxLength(Int)
    case pattern(RegexPattern)
    case format(StringFormat)
}

enum ArrayCheck: Sendable {
    case items(Int)
    case tuple([Int], additional: Int?)
    case minItems(Int)
    case maxItems(Int)
    case uniqueItems
    case contains(Int)
}

/// `properties`, `patternProperties`, `additionalProperties` and `required` of one subschema,
/// checked together in one pass over the instance's members.
final class PropertiesCheck: Sendable {
    let names: [String]
    let nodes: [Int]
    let patterns: [(RegexPattern, Int)]
    let additional: Int?
    /// Required names, with the index of the same name in `names` when it has one.
    let required: [(name: String, index: Int?)]

    init(names: [String], nodes: [Int], patterns: [(RegexPattern, Int)], additional: Int?, required: [String]) {
        self.names = names
        self.nodes = nodes
        self.patterns = patterns
        self.additional = additional
        self.required = required.map { name in (name, names.firstIndex(of: name)) }
    }

    func index(of key: String, hint: Int) -> Int? {
        if hint < names.count, names[hint] == key { return hint }
        let length = key.utf8.count
        for index in names.indices where names[index].utf8.count == length && names[index] == key {
            return index
        }
        return nil
    }
}

enum Dependency: Sendable {
    case properties([String])
    case schema(Int)
}

enum ObjectCheck: Sendable {
    case properties(PropertiesCheck)
    case minProperties(Int)
    case maxProperties(Int)
    case dependencies([(String, Dependency)])
    case propertyNames(Int)
}
