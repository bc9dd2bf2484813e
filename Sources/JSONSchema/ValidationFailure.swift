/// One reason an instance does not satisfy a schema.
public struct ValidationFailure: Sendable, Hashable, CustomStringConvertible {
    /// One step from the root of the instance to the failing value.
    public enum PathComponent: Sendable, Hashable, CustomStringConvertible {
        /// An object member.
        case key(String)
        /// An array element.
        case index(Int)

        public var description: String {
            switch self {
            case .key(let key): key
            case .index(let index): String(index)
            }
        }
    }

    /// The path to the failing value (for `required`, the object that lacks the property).
    public var instancePath: [PathComponent]
    /// The keyword that failed, such as `type`, `required` or `additionalProperties`.
    public var keyword: String
    /// Where the keyword is in the schema: a URI whose fragment is a JSON Pointer.
    public var schemaLocation: String
    /// A short, human-readable reason, such as `must be numeric` or `is required`.
    public var reason: String
    /// For `required` and `dependencies` failures, the name of the missing property.
    public var missingProperty: String?

    /// Creates a failure.
    public init(
        instancePath: [PathComponent], keyword: String, schemaLocation: String, reason: String,
        missingProperty: String? = nil
    ) {
        self.instancePath = instancePath
        self.keyword = keyword
        self.schemaLocation = schemaLocation
        self.reason = reason
        self.missingProperty = missingProperty
    }

    /// The path to the failing value as a JSON Pointer (RFC 6901), `""` for the root.
    public var instanceLocation: String {
        instancePath.map { "/" + $0.description.replacing("~", with: "~0").replacing("/", with: "~1") }.joined()
    }

    /// The field this failure is about, as Switchyard's error bodies name it: path components joined
    /// with `.` (`legs.0.price`), including the missing property for `required`, and `$` for the root.
    public var field: String {
        let components = instancePath.map(\.description) + (missingProperty.map { [$0] } ?? [])
        return components.isEmpty ? "$" : components.joined(separator: ".")
    }

    public var description: String {
        "\(instanceLocation.isEmpty ? "/" : instanceLocation) \(missingProperty.map { "\($0) " } ?? "")\(reason) (\(keyword))"
    }
}
