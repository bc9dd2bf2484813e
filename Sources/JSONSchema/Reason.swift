/// The wording of failure reasons.
enum Reason {
    static func display(_ value: JSONValue) -> String {
        if case .string(let string) = value { return string }
        return value.serialized()
    }

    static func oneOf(_ values: [JSONValue]) -> String {
        "must be one of: " + values.map(display).joined(separator: ", ")
    }

    static func type(_ types: TypeSet) -> String {
        let names: [String] = TypeSet.names.compactMap { name, type in
            guard types.contains(type) else { return nil }
            switch type {
            case .integer: return "an integer"
            case .number: return "numeric"
            case .array, .object: return "an \(name)"
            case .null: return "null"
            default: return "a \(name)"
            }
        }
        if names.count == 1 { return "must be \(names[0])" }
        return "must be one of: " + names.joined(separator: ", ")
    }

    static func keyword(_ kind: NumericBound.Kind) -> String {
        switch kind {
        case .minimum: "minimum"
        case .exclusiveMinimum: "exclusiveMinimum"
        case .maximum: "maximum"
        case .exclusiveMaximum: "exclusiveMaximum"
        }
    }

    static func bound(_ bound: NumericBound) -> String {
        let limit = display(bound.limit.json)
        return switch bound.kind {
        case .minimum: "must be at least \(limit)"
        case .exclusiveMinimum: "must be greater than \(limit)"
        case .maximum: "must be at most \(limit)"
        case .exclusiveMaximum: "must be less than \(limit)"
        }
    }
}
