/// Runs compiled nodes over an instance. When `collecting` is off it stops at the first failure and
/// allocates nothing; when on, it records every failure with its path.
struct Validator {
    /// Evaluations nested deeper than this fail, which stops schemas that recurse without
    /// descending into the instance (`{"$ref": "#"}`) instead of overflowing the stack.
    static let maxDepth = 1024

    let nodes: [CompiledNode]
    var collecting: Bool
    var failures: [ValidationFailure] = []
    var path: [ValidationFailure.PathComponent] = []
    private var depth = 0

    init(nodes: [CompiledNode], collecting: Bool) {
        self.nodes = nodes
        self.collecting = collecting
    }

    mutating func fail(
        _ keyword: String, _ node: CompiledNode, _ reason: @autoclosure () -> String, missing: String? = nil
    ) -> Bool {
        if collecting {
            failures.append(
                ValidationFailure(
                    instancePath: path, keyword: keyword, schemaLocation: node.location + "/" + keyword,
                    reason: reason(), missingProperty: missing))
        }
        return false
    }

    /// Evaluates without recording failures, as applicators that only need a verdict do.
    mutating func test(_ value: JSONValue, _ index: Int) -> Bool {
        let saved = collecting
        collecting = false
        defer { collecting = saved }
        return validate(value, index)
    }

    mutating func validate(_ value: JSONValue, at component: ValidationFailure.PathComponent, _ index: Int) -> Bool {
        guard collecting else { return validate(value, index) }
        path.append(component)
        defer { path.removeLast() }
        return validate(value, index)
    }

    mutating func validate(_ value: JSONValue, _ index: Int) -> Bool {
        depth += 1
        defer { depth -= 1 }
        let node = nodes[index]
        guard depth <= Self.maxDepth else { return fail("$ref", node, "schema recursion is too deep") }
        var valid = true
        if let types = node.types, !types.contains(typeOf: value) {
            guard collecting else { return false }
            valid = fail("type", node, Reason.type(types))
        }
        if !node.general.isEmpty {
            for check in node.general where !checkGeneral(check, value, node) {
                guard collecting else { return false }
                valid = false
            }
        }
        switch value {
        case .int, .double:
            guard !node.numeric.isEmpty else { break }
            for check in node.numeric where !checkNumeric(check, value, node) {
                guard collecting else { return false }
                valid = false
            }
        case .string(let string):
            guard !node.string.isEmpty else { break }
            for check in node.string where !checkString(check, string, node) {
                guard collecting else { return false }
                valid = false
            }
        case .array(let elements):
            guard !node.array.isEmpty else { break }
            for check in node.array where !checkArray(check, elements, node) {
                guard collecting else { return false }
                valid = false
            }
        case .object(let object):
            guard !node.object.isEmpty else { break }
            for check in node.object where !checkObject(check, object, node) {
                guard collecting else { return false }
                valid = false
            }
        case .null, .bool:
            break
        }
        return valid
    }

    private mutating func checkGeneral(_ check: GeneralCheck, _ value: JSONValue, _ node: CompiledNode) -> Bool {
        switch check {
        case .never:
            return fail("false", node, "is not allowed")
        case .reference(let target):
            return validate(value, target)
        case .enumeration(let values):
            return values.contains(where: { $0.isStrictlyEqual(to: value) }) || fail("enum", node, Reason.oneOf(values))
        case .constant(let expected):
            return value.isStrictlyEqual(to: expected) || fail("const", node, "must be \(Reason.display(expected))")
        case .allOf(let targets):
            var valid = true
            for target in targets where !validate(value, target) {
                guard collecting else { return false }
                valid = false
            }
            return valid
        case .anyOf(let targets):
            for target in targets where test(value, target) { return true }
            return fail("anyOf", node, "must match at least one of the allowed schemas")
        case .oneOf(let targets):
            var matches = 0
            for target in targets where test(value, target) {
                matches += 1
                if matches > 1 { return fail("oneOf", node, "must match only one of the allowed schemas") }
            }
            return matches == 1 || fail("oneOf", node, "must match exactly one of the allowed schemas")
        case .not(let target):
            return !test(value, target) || fail("not", node, "must not match the disallowed schema")
        case .conditional(let condition, let then, let otherwise):
            if test(value, condition) {
                return then.map { validate(value, $0) } ?? true
            }
            return otherwise.map { validate(value, $0) } ?? true
        }
    }

    private mutating func checkNumeric(_ check: NumericCheck, _ value: JSONValue, _ node: CompiledNode) -> Bool {
        switch check {
        case .bound(let bound):
            return bound.admits(value) || fail(Reason.keyword(bound.kind), node, Reason.bound(bound))
        case .multipleOf(let divisor):
            return Self.isMultiple(value, of: divisor)
                || fail("multipleOf", node, "must be a multiple of \(Reason.display(divisor.json))")
        }
    }

    /// Whether `value` is an integral multiple of `divisor`, tolerating the rounding of decimal
    /// fractions in binary (`0.0075` is a multiple of `0.0001`).
    static func isMultiple(_ value: JSONValue, of divisor: SchemaNumber) -> Bool {
        if case .int(let a) = value, let b = divisor.integer { return a % b == 0 }
        let dividend = value.doubleValue!, step = divisor.double
        let quotient = dividend / step
        guard quotient.isFinite else {
            let reciprocal = 1 / step
            return dividend.rounded() == dividend && reciprocal.rounded() == reciprocal
        }
        let nearest = quotient.rounded()
        return abs(quotient - nearest) <= nearest.magnitude.ulp * 8
    }

    private mutating func checkString(_ check: StringCheck, _ string: String, _ node: CompiledNode) -> Bool {
        switch check {
        case .minLength(let minimum):
            let bytes = string.utf8.count
            if bytes / 4 >= minimum { return true }
            return (bytes >= minimum && string.unicodeScalars.count >= minimum)
                || fail("minLength", node, "must be at least \(minimum) characters long")
        case .maxLength(let maximum):
            if string.utf8.count <= maximum { return true }
            return string.unicodeScalars.count <= maximum
                || fail("maxLength", node, "must be at most \(maximum) characters long")
        case .pattern(let pattern):
            return pattern.matches(string) || fail("pattern", node, "must match pattern \(pattern.source)")
        case .format(let format):
            return format.accepts(string) || fail("format", node, "must be a valid \(format.name)")
        }
    }
}
