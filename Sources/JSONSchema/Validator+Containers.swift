extension Validator {
    mutating func checkArray(_ check: ArrayCheck, _ elements: [JSONValue], _ node: CompiledNode) -> Bool {
        switch check {
        case .items(let target):
            var valid = true
            for (index, element) in elements.enumerated() where !validate(element, at: .index(index), target) {
                guard collecting else { return false }
                valid = false
            }
            return valid
        case .tuple(let targets, let additional):
            var valid = true
            for (index, element) in elements.enumerated() {
                let passed: Bool
                if index < targets.count {
                    passed = validate(element, at: .index(index), targets[index])
                } else if let additional {
                    if nodes[additional].isFalse {
                        passed = withPath(.index(index)) { $0.fail("additionalItems", node, "is not allowed") }
                    } else {
                        passed = validate(element, at: .index(index), additional)
                    }
                } else {
                    break
                }
                if !passed {
                    guard collecting else { return false }
                    valid = false
                }
            }
            return valid
        case .minItems(let minimum):
            return elements.count >= minimum || fail("minItems", node, "must have at least \(minimum) items")
        case .maxItems(let maximum):
            return elements.count <= maximum || fail("maxItems", node, "must have at most \(maximum) items")
        case .uniqueItems:
            return Self.areUnique(elements) || fail("uniqueItems", node, "must not contain duplicate items")
        case .contains(let target):
            for element in elements where test(element, target) { return true }
            return fail("contains", node, "must contain at least one matching item")
        }
    }

    private static func areUnique(_ elements: [JSONValue]) -> Bool {
        if elements.count <= 16 {
            for index in elements.indices {
                for other in elements.indices where other > index && elements[index].isStrictlyEqual(to: elements[other]) {
                    return false
                }
            }
            return true
        }
        var buckets: [Int: [Int]] = [:]
        for (index, element) in elements.enumerated() {
            let bucket = buckets[element.hashValue, default: []]
            if bucket.contains(where: { elements[$0].isStrictlyEqual(to: element) }) { return false }
            buckets[element.hashValue, default: []].append(index)
        }
        return true
    }

    private mutating func withPath(_ component: ValidationFailure.PathComponent, _ body: (inout Validator) -> Bool) -> Bool {
        guard collecting else { return body(&self) }
        path.append(component)
        defer { path.removeLast() }
        return body(&self)
    }

    mutating func checkObject(_ check: ObjectCheck, _ object: JSONObject, _ node: CompiledNode) -> Bool {
        switch check {
        case .properties(let properties):
            return checkProperties(properties, object, node)
        case .minProperties(let minimum):
            return object.count >= minimum || fail("minProperties", node, "must have at least \(minimum) properties")
        case .maxProperties(let maximum):
            return object.count <= maximum || fail("maxProperties", node, "must have at most \(maximum) properties")
        case .dependencies(let dependencies):
            var valid = true
            for (name, dependency) in dependencies where object[name] != nil {
                let passed: Bool
                switch dependency {
                case .properties(let names):
                    passed = names.allSatisfy { required in
                        object[required] != nil
                            || fail("dependencies", node, "is required when \(name) is present", missing: required)
                    }
                case .schema(let target):
                    passed = validate(.object(object), target)
                }
                if !passed {
                    guard collecting else { return false }
                    valid = false
                }
            }
            return valid
        case .propertyNames(let target):
            var valid = true
            for member in object.members where !test(.string(member.key), target) {
                guard collecting else { return false }
                valid = withPath(.key(member.key)) { $0.fail("propertyNames", node, "is not an allowed property name") }
            }
            return valid
        }
    }

    private mutating func checkProperties(_ check: PropertiesCheck, _ object: JSONObject, _ node: CompiledNode) -> Bool {
        var valid = true
        var present: UInt64 = 0
        var hint = 0
        for member in object.members {
            var matched = false
            var passed = true
            if let index = check.index(of: member.key, hint: hint) {
                matched = true
                hint = index + 1
                if index < 64 { present |= 1 << UInt64(index) }
                passed = validate(member.value, at: .key(member.key), check.nodes[index])
            }
            for (pattern, target) in check.patterns where pattern.matches(member.key) {
                matched = true
                passed = validate(member.value, at: .key(member.key), target) && passed
            }
            if !matched, let additional = check.additional {
                if nodes[additional].isFalse {
                    passed = withPath(.key(member.key)) { $0.fail("additionalProperties", node, "is not allowed") }
                } else {
                    passed = validate(member.value, at: .key(member.key), additional)
                }
            }
            if !passed {
                guard collecting else { return false }
                valid = false
            }
        }
        for (name, index) in check.required {
            if let index, index < 64 {
                if present & (1 << UInt64(index)) != 0 { continue }
            } else if object[name] != nil {
                continue
            }
            guard collecting else { return false }
            valid = fail("required", node, "is required", missing: name)
        }
        return valid
    }
}
