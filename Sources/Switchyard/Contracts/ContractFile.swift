import JSONSchema

/// Reads one contract file, collecting every problem with the place it was found.
struct ContractFile {
    static let topLevelKeys: Set<String> = ["channel", "version", "description", "origin", "schema", "policy", "sensitive_fields", "examples"]
    static let policyKeys: Set<String> = [
        "retention", "max_size_bytes", "rate_limit", "delivery", "conflatable", "critical", "producers", "consumers", "live_message",
        "acknowledge", "kafka",
    ]

    let path: String
    private(set) var problems: [ContractProblem] = []

    init(path: String) {
        self.path = path
    }

    private mutating func problem(_ location: String, _ message: String) {
        problems.append(ContractProblem(file: path, location: location, message: message))
    }

    /// Reads `policy.kafka`; `nil` with problems recorded when it is malformed.
    private mutating func kafkaPolicy(_ value: JSONValue) -> ChannelPolicy.Kafka? {
        guard case .object(let object) = value else {
            problem("/policy/kafka", "'kafka' must be an object with any of: \(ChannelPolicy.Kafka.keys.sorted().joined(separator: ", "))")
            return nil
        }
        let before = problems.count
        var kafka = ChannelPolicy.Kafka()
        for key in object.keys where !ChannelPolicy.Kafka.keys.contains(key) {
            problem("/policy/kafka/\(key)", "unknown kafka key '\(key)' (allowed: \(ChannelPolicy.Kafka.keys.sorted().joined(separator: ", ")))")
        }
        if let topic = object["topic"] {
            if let name = topic.stringValue, ChannelPolicy.Kafka.isValidTopic(name) {
                kafka.topic = name
            } else {
                problem("/policy/kafka/topic", "'topic' must be a Kafka topic name: 1 to 249 of letters, digits, '.', '_' and '-'")
            }
        }
        if let partitions = object["partitions"] {
            if case .int(let count) = partitions, count >= 1, count <= 10_000 {
                kafka.partitions = Int(count)
            } else {
                problem("/policy/kafka/partitions", "'partitions' must be an integer from 1 to 10000")
            }
        }
        if let key = object["partition_key"] {
            if let field = key.stringValue, !field.isEmpty {
                kafka.partitionKey = field
            } else {
                problem("/policy/kafka/partition_key", "'partition_key' must name a payload field")
            }
        }
        if let retention = object["retention"] {
            if let text = retention.stringValue, let seconds = DurationText.seconds(text) {
                kafka.retentionSeconds = seconds
            } else {
                problem("/policy/kafka/retention", "'retention' must be a duration such as \"1h\" or \"7d\"")
            }
        }
        if let compaction = object["compaction"] {
            if let flag = compaction.boolValue { kafka.compaction = flag } else { problem("/policy/kafka/compaction", "'compaction' must be true or false") }
        }
        return problems.count == before ? kafka : nil
    }

    /// Decodes the contract in `text`; returns `nil` and records problems when it cannot.
    mutating func decode(_ text: String) -> Contract? {
        let json: JSONValue
        do {
            json = try JSONValue(parsing: text)
        } catch {
            problem(Self.lineAndColumn(of: error.offset, in: text), "not valid JSON: \(error)")
            return nil
        }
        guard case .object(let object) = json else {
            problem("/", "a contract file must hold one JSON object")
            return nil
        }
        for key in object.keys where !Self.topLevelKeys.contains(key) {
            problem("/\(key)", "unknown key '\(key)' (allowed: \(Self.topLevelKeys.sorted().joined(separator: ", ")))")
        }
        var channel: ChannelPattern?
        if let text = object["channel"]?.stringValue {
            do {
                let pattern = try ChannelPattern(text)
                if pattern.isLiteral, !ChannelName.isValid(text) {
                    problem("/channel", "'\(text)' is not a channel name: segments of [A-Za-z0-9_-] joined by ':' or '.'")
                } else if !pattern.isLiteral, !pattern.hasOnlyChannelAndGlobCharacters {
                    problem("/channel", "'\(text.prefix(80))' is not a channel pattern: letters, digits, '_', '-', ':', '.' and the glob characters * ? [ ] ^ \\ only")
                } else {
                    channel = pattern
                }
            } catch {
                problem("/channel", error.message)
            }
        } else {
            problem("/channel", "'channel' is required and must be a string")
        }
        var version = 1
        switch object["version"] {
        case nil: break
        case .int(let value)? where value >= 1: version = Int(value)
        default: problem("/version", "'version' must be an integer of at least 1")
        }
        let description = object["description"]?.stringValue ?? ""
        if object["description"] != nil && object["description"]?.stringValue == nil {
            problem("/description", "'description' must be a string")
        }
        if object["origin"] != nil && object["origin"]?.stringValue == nil {
            problem("/origin", "'origin' must be a string")
        }
        guard let schema = object["schema"] else {
            problem("/schema", "'schema' is required")
            return nil
        }
        let policy = decodePolicy(object["policy"], channel: channel?.rawValue ?? "")
        let sensitive = decodeSensitiveFields(object["sensitive_fields"], schema: schema)
        let (valid, invalid) = decodeExamples(object["examples"])
        guard let channel, let policy, let sensitive else { return nil }
        do {
            return try Contract(
                channel: channel, version: version, description: description, origin: object["origin"]?.stringValue,
                schema: schema, policy: policy, sensitiveFields: sensitive, validExamples: valid, invalidExamples: invalid, file: path)
        } catch {
            let metaFailures = CompiledSchema.metaSchemaFailures(of: schema)
            for failure in metaFailures {
                problem("/schema\(failure.instanceLocation)", "not a valid draft-07 schema: \(failure.reason)")
            }
            if metaFailures.isEmpty { problem("/schema", error.message) }
            return nil
        }
    }

    private mutating func decodePolicy(_ value: JSONValue?, channel: String) -> ChannelPolicy? {
        var policy = ChannelPolicy.defaults(for: channel)
        guard let value else { return policy }
        guard case .object(let object) = value else {
            problem("/policy", "'policy' must be an object")
            return nil
        }
        let before = problems.count
        for key in object.keys where !Self.policyKeys.contains(key) {
            problem("/policy/\(key)", "unknown policy key '\(key)' (allowed: \(Self.policyKeys.sorted().joined(separator: ", ")))")
        }
        if let retention = object["retention"] {
            if let text = retention.stringValue, let seconds = DurationText.seconds(text) {
                policy.retentionSeconds = seconds
            } else if case .int(let seconds) = retention, seconds > 0 {
                policy.retentionSeconds = Int(seconds)
            } else {
                problem("/policy/retention", "'retention' must be a duration such as \"300s\", \"5m\", \"1h\" or \"1d\"")
            }
        }
        if let size = object["max_size_bytes"] {
            if case .int(let bytes) = size, bytes > 0, bytes <= ChannelPolicy.defaultMaxSizeBytes {
                policy.maxSizeBytes = Int(bytes)
            } else {
                problem("/policy/max_size_bytes", "'max_size_bytes' must be an integer from 1 to \(ChannelPolicy.defaultMaxSizeBytes)")
            }
        }
        if let rate = object["rate_limit"] {
            if case .object(let limit) = rate, case .int(let perSecond)? = limit["per_second"], case .int(let burst)? = limit["burst"],
                perSecond > 0, burst >= perSecond, limit.count == 2
            {
                policy.rateLimit = .init(perSecond: Int(perSecond), burst: Int(burst))
            } else {
                problem("/policy/rate_limit", "'rate_limit' must be {\"per_second\": N, \"burst\": M} with 0 < N <= M")
            }
        }
        if let delivery = object["delivery"] {
            if let text = delivery.stringValue, let known = ChannelPolicy.Delivery.all.first(where: { $0.rawValue == text }) {
                policy.delivery = known
            } else {
                problem("/policy/delivery", "'delivery' must be \"durable\" or \"live\"")
            }
        }
        if let live = object["live_message"] {
            if let text = live.stringValue, let known = ChannelPolicy.LiveMessage.all.first(where: { $0.rawValue == text }) {
                policy.liveMessage = known
            } else {
                problem("/policy/live_message", "'live_message' must be \"envelope\" or \"payload\"")
            }
        }
        if let acknowledge = object["acknowledge"] {
            if let known = ChannelPolicy.Acknowledge.named(acknowledge.stringValue) {
                policy.acknowledge = known
            } else {
                problem("/policy/acknowledge", "'acknowledge' must be \"primary\" or \"replicated\"")
            }
        }
        if let kafka = object["kafka"] { policy.kafka = kafkaPolicy(kafka) }
        for (key, path) in [("conflatable", \ChannelPolicy.conflatable), ("critical", \ChannelPolicy.critical)] {
            guard let flag = object[key] else { continue }
            if let bool = flag.boolValue { policy[keyPath: path] = bool } else { problem("/policy/\(key)", "'\(key)' must be true or false") }
        }
        for (key, path) in [("producers", \ChannelPolicy.producers), ("consumers", \ChannelPolicy.consumers)] {
            guard let list = object[key] else { continue }
            if let names = list.arrayValue?.compactMap(\.stringValue), names.count == list.arrayValue?.count {
                let invalid = names.indices.filter { !ChannelPolicy.isValidServiceName(names[$0]) }
                for index in invalid {
                    problem(
                        "/policy/\(key)/\(index)",
                        "'\(names[index].prefix(80))' is not a service name: use letters, digits, '_', '.' and '-' only (or \"*\" for any service)")
                }
                if invalid.isEmpty { policy[keyPath: path] = names }
            } else {
                problem("/policy/\(key)", "'\(key)' must be an array of service names")
            }
        }
        return problems.count == before ? policy : nil
    }

    /// Reads `sensitive_fields`: distinct dotted paths, each declared through the schema's
    /// `properties` (so a typo is caught here rather than leaving a field in clear).
    private mutating func decodeSensitiveFields(_ value: JSONValue?, schema: JSONValue) -> [SensitiveField]? {
        guard let value else { return [] }
        guard let list = value.arrayValue, list.allSatisfy({ $0.stringValue != nil }) else {
            problem("/sensitive_fields", "'sensitive_fields' must be an array of field paths such as \"account_id\" or \"beneficiary.iban\"")
            return nil
        }
        let before = problems.count
        var fields: [SensitiveField] = []
        for (index, entry) in list.enumerated() {
            let text = entry.stringValue!
            guard let field = try? SensitiveField(text) else {
                problem("/sensitive_fields/\(index)", "'\(text)' is not a field path: member names joined by '.'")
                continue
            }
            if fields.contains(field) {
                problem("/sensitive_fields/\(index)", "'\(text)' is listed twice")
            } else if !Self.declares(schema, field.components[...]) {
                problem("/sensitive_fields/\(index)", "'\(text)' is not declared in the schema's properties")
            }
            fields.append(field)
        }
        return problems.count == before ? fields : nil
    }

    /// Whether the schema declares the path through nested `properties`.
    private static func declares(_ schema: JSONValue, _ path: ArraySlice<String>) -> Bool {
        guard let name = path.first else { return true }
        guard case .object(let properties)? = schema["properties"], let child = properties[name] else { return false }
        return declares(child, path.dropFirst())
    }

    private mutating func decodeExamples(_ value: JSONValue?) -> ([JSONValue], [(payload: JSONValue, why: String)]) {
        guard let value else { return ([], []) }
        guard case .object(let object) = value else {
            problem("/examples", "'examples' must be an object with 'valid' and 'invalid' arrays")
            return ([], [])
        }
        for key in object.keys where key != "valid" && key != "invalid" {
            problem("/examples/\(key)", "unknown key '\(key)' (allowed: invalid, valid)")
        }
        var valid: [JSONValue] = []
        if let list = object["valid"] {
            if let array = list.arrayValue { valid = array } else { problem("/examples/valid", "'valid' must be an array of payloads") }
        }
        var invalid: [(payload: JSONValue, why: String)] = []
        if let list = object["invalid"] {
            guard let array = list.arrayValue else {
                problem("/examples/invalid", "'invalid' must be an array")
                return (valid, [])
            }
            for (index, entry) in array.enumerated() {
                if let payload = entry["payload"], let why = entry["why"]?.stringValue {
                    invalid.append((payload, why))
                } else {
                    problem("/examples/invalid/\(index)", "each invalid example is {\"payload\": {…}, \"why\": \"…\"}")
                }
            }
        }
        return (valid, invalid)
    }

    static func lineAndColumn(of offset: Int, in text: String) -> String {
        var line = 1
        var column = 1
        for byte in text.utf8.prefix(offset) {
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return "line \(line), column \(column)"
    }
}
