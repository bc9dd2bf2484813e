import JSONSchema

/// Reads a state-key file, collecting every problem with the place it was found.
struct StateKeyFile {
    static let entryKeys: Set<String> = ["key", "ttl", "origin", "description", "schema"]

    let path: String
    private(set) var problems: [ContractProblem] = []

    init(path: String) {
        self.path = path
    }

    private mutating func problem(_ location: String, _ message: String) {
        problems.append(ContractProblem(file: path, location: location, message: message))
    }

    /// Decodes the entries in `text`; the ones with problems are left out and the problems recorded.
    mutating func decode(_ text: String) -> [StateKeyEntry] {
        let json: JSONValue
        do {
            json = try JSONValue(parsing: text)
        } catch {
            problem(ContractFile.lineAndColumn(of: error.offset, in: text), "not valid JSON: \(error)")
            return []
        }
        guard case .object(let object) = json, let list = object["keys"]?.arrayValue else {
            problem("/keys", "a state-key file holds one object with a 'keys' array")
            return []
        }
        for key in object.keys where key != "keys" && key != "description" {
            problem("/\(key)", "unknown key '\(key)' (allowed: description, keys)")
        }
        return list.indices.compactMap { decodeEntry(list[$0], at: "/keys/\($0)") }
    }

    private mutating func decodeEntry(_ value: JSONValue, at location: String) -> StateKeyEntry? {
        guard case .object(let object) = value else {
            problem(location, "each entry is an object with 'key' and 'ttl'")
            return nil
        }
        for key in object.keys where !Self.entryKeys.contains(key) {
            problem("\(location)/\(key)", "unknown key '\(key)' (allowed: \(Self.entryKeys.sorted().joined(separator: ", ")))")
        }
        guard let text = object["key"]?.stringValue, let pattern = try? ChannelPattern(text),
            pattern.isLiteral ? ChannelName.isValid(text) : pattern.hasOnlyChannelAndGlobCharacters
        else {
            problem("\(location)/key", "'key' must be a key name (segments of [A-Za-z0-9_-] joined by ':' or '.') or a glob pattern of them")
            return nil
        }
        if text.hasPrefix(StateStore.reservedPrefix) {
            problem("\(location)/key", "keys starting with '\(StateStore.reservedPrefix)' are Switchyard's own")
            return nil
        }
        let ttl: Duration?
        switch object["ttl"] {
        case .null?: ttl = nil
        case .string(let duration)? where DurationText.seconds(duration) != nil: ttl = .seconds(DurationText.seconds(duration)!)
        default:
            problem("\(location)/ttl", "'ttl' is required: a duration such as \"60s\", \"5m\", \"1h\" or \"1d\", or null for no expiry")
            return nil
        }
        for member in ["origin", "description"] where object[member] != nil && object[member]?.stringValue == nil {
            problem("\(location)/\(member)", "'\(member)' must be a string")
        }
        do {
            return try StateKeyEntry(
                key: pattern, ttl: ttl, origin: object["origin"]?.stringValue, description: object["description"]?.stringValue ?? "",
                schema: object["schema"])
        } catch {
            let failures = object["schema"].map { CompiledSchema.metaSchemaFailures(of: $0) } ?? []
            for failure in failures { problem("\(location)/schema\(failure.instanceLocation)", "not a valid draft-07 schema: \(failure.reason)") }
            if failures.isEmpty { problem("\(location)/schema", error.message) }
            return nil
        }
    }
}
