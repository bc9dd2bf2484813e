/// Validation failures reduced to the `details` of Switchyard's `validation_error` body:
/// the fields that are missing and, for every other failing field, the first reason it fails.
public struct ValidationSummary: Sendable, Hashable {
    /// Missing properties by field path (`timestamp`, `order.price`, `legs.0.price`), in order found.
    public var missingFields: [String]
    /// Failing fields with their reason, in order found, each field once; `$` names the root.
    public var invalidFields: [(field: String, reason: String)]

    /// Summarizes `failures`: `required` and `dependencies` failures name missing fields; every other
    /// failure names an invalid field, keeping the first reason for a field that fails several ways.
    public init(_ failures: [ValidationFailure]) {
        missingFields = []
        invalidFields = []
        var seen: Set<String> = []
        for failure in failures {
            let field = failure.field
            guard seen.insert(field).inserted else { continue }
            if failure.missingProperty != nil {
                missingFields.append(field)
            } else {
                invalidFields.append((field, failure.reason))
            }
        }
    }

    /// Whether there is nothing to report.
    public var isEmpty: Bool { missingFields.isEmpty && invalidFields.isEmpty }

    public static func == (lhs: ValidationSummary, rhs: ValidationSummary) -> Bool {
        lhs.missingFields == rhs.missingFields && lhs.invalidFields.elementsEqual(rhs.invalidFields, by: ==)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(missingFields)
        for (field, reason) in invalidFields {
            hasher.combine(field)
            hasher.combine(reason)
        }
    }
}
