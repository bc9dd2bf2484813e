extension JSONValue {
    /// JSON Schema equality: numbers by value (`1 == 1.0`), objects without regard to member order, and
    /// strings by Unicode scalars, so canonically equivalent but differently encoded strings differ.
    func isStrictlyEqual(to other: JSONValue) -> Bool {
        switch (self, other) {
        case (.string(let a), .string(let b)):
            return a == b && a.utf8.elementsEqual(b.utf8)
        case (.array(let a), .array(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.isStrictlyEqual(to: $1) }
        case (.object(let a), .object(let b)):
            guard a.count == b.count else { return false }
            return a.members.allSatisfy { key, value in
                b.members.contains { $0.key.utf8.elementsEqual(key.utf8) && $0.value.isStrictlyEqual(to: value) }
            }
        default:
            return self == other
        }
    }
}
