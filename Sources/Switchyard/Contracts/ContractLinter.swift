import JSONSchema

/// Checks a contract folder the way `switchyard contracts check` does, returning every problem.
///
/// Beyond what loading checks (JSON syntax, unknown keys, policy values, duplicate channels), it
/// validates each schema against the draft-07 meta-schema, runs each contract's examples (valid
/// ones must pass, invalid ones must fail), refuses schemas that declare credential fields, and
/// reports patterns that overlap with equal literal prefixes, where the winner would be decided
/// only by the order of their text, and payload mode (`live_message`) on a contract with
/// sensitive fields (plain subscribers would get sealed values).
public enum ContractLinter {
    /// Every problem in the folder; empty when it is clean.
    public static func lint(directory: String, credentialFields: [String] = PayloadGuard.defaultCredentialFields) -> [ContractProblem] {
        let (contracts, loadProblems) = ContractRegistry.read(directory)
        var problems = loadProblems
        let credentials = Set(credentialFields.map(PayloadGuard.normalize))
        for contract in contracts {
            problems += lint(contract, credentials: credentials)
        }
        problems += overlaps(in: contracts)
        return problems
    }

    static func lint(_ contract: Contract, credentials: Set<String>) -> [ContractProblem] {
        let file = contract.file ?? contract.channel.rawValue
        var problems: [ContractProblem] = []
        for failure in CompiledSchema.metaSchemaFailures(of: contract.schema) {
            problems.append(ContractProblem(file: file, location: "/schema\(failure.instanceLocation)", message: "not a valid draft-07 schema: \(failure.reason)"))
        }
        for (location, name) in declaredProperties(contract.schema, location: "/schema") where credentials.contains(PayloadGuard.normalize(name)) {
            problems.append(ContractProblem(file: file, location: location, message: "'\(name)' is a credential field name; credentials are never allowed in messages"))
        }
        if contract.validExamples.isEmpty {
            problems.append(ContractProblem(file: file, location: "/examples/valid", message: "give at least one valid example payload"))
        }
        for (index, example) in contract.validExamples.enumerated() {
            do {
                try contract.validate(example)
            } catch {
                problems.append(ContractProblem(file: file, location: "/examples/valid/\(index)", message: "the example does not validate: \(error.body.serialized())"))
            }
        }
        if contract.policy.liveMessage == .payload, !contract.sensitiveFields.isEmpty {
            problems.append(ContractProblem(
                file: file, location: "/policy/live_message",
                message: "payload mode publishes the stored payload to plain subscribers, and its sensitive_fields are sealed there: they could not read them"))
        }
        for (index, example) in contract.invalidExamples.enumerated() where contract.validator.isValid(example.payload) {
            problems.append(ContractProblem(file: file, location: "/examples/invalid/\(index)", message: "the example validates, but should not (\(example.why))"))
        }
        return problems
    }

    private static func declaredProperties(_ schema: JSONValue, location: String) -> [(String, String)] {
        guard case .object(let object) = schema else {
            if case .array(let elements) = schema {
                return elements.enumerated().flatMap { declaredProperties($0.element, location: "\(location)/\($0.offset)") }
            }
            return []
        }
        var found: [(String, String)] = []
        for (key, value) in object {
            let childLocation = "\(location)/\(key)"
            if key == "properties", case .object(let properties) = value {
                for (name, subschema) in properties {
                    found.append(("\(childLocation)/\(name)", name))
                    found += declaredProperties(subschema, location: "\(childLocation)/\(name)")
                }
            } else if key == "required", case .array(let names) = value {
                for case .string(let name) in names { found.append((childLocation, name)) }
            } else if key != "enum" && key != "const" && key != "examples" && key != "default" {
                found += declaredProperties(value, location: childLocation)
            }
        }
        return found
    }

    static func overlaps(in contracts: [Contract]) -> [ContractProblem] {
        let patterns = contracts.filter { !$0.channel.isLiteral }
        var problems: [ContractProblem] = []
        for (index, first) in patterns.enumerated() {
            for second in patterns[(index + 1)...] {
                guard first.channel.literalPrefix.utf8.count == second.channel.literalPrefix.utf8.count else { continue }
                let probes = probes(for: first.channel, other: second.channel) + probes(for: second.channel, other: first.channel)
                if let witness = probes.first(where: { first.channel.matches($0) && second.channel.matches($0) }) {
                    problems.append(ContractProblem(
                        file: second.file ?? second.channel.rawValue, location: "/channel",
                        message: "'\(second.channel)' and '\(first.channel)' (\(first.file ?? "?")) both match '\(witness)' with equally long literal prefixes; make one more specific"))
                }
            }
        }
        return problems
    }

    /// Channel names that `pattern` matches, filled from the literal text of `other`.
    private static func probes(for pattern: ChannelPattern, other: ChannelPattern) -> [String] {
        var fillers = ["x"]
        for word in other.rawValue.split(whereSeparator: { !$0.isASCII || !ChannelName.isSegmentByte($0.asciiValue!) }) where !fillers.contains(String(word)) {
            fillers.append(String(word))
        }
        return fillers.map { filler in
            var probe = ""
            var inClass = false
            var classDone = false
            var escaped = false
            for character in pattern.rawValue {
                if escaped {
                    probe.append(character)
                    escaped = false
                } else if inClass {
                    if character == "]" { inClass = false } else if !classDone && character != "^" {
                        probe.append(character)
                        classDone = true
                    }
                } else {
                    switch character {
                    case "\\": escaped = true
                    case "*": probe += filler
                    case "?": probe += "x"
                    case "[": inClass = true; classDone = false
                    default: probe.append(character)
                    }
                }
            }
            return probe
        }
    }
}
