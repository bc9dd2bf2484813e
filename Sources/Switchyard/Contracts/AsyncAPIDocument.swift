import JSONSchema

/// Writes an AsyncAPI 3.0 document describing the channels of a contract registry.
///
/// Each contract becomes a channel (its address; each glob token of a pattern, `*`, `?` or a
/// `[…]` set, becomes a `{wildcardN}` parameter), a message whose payload is the Switchyard
/// envelope with `data` referring to the contract's schema in `components/schemas` (its local
/// `$ref`s rewritten to stay valid there), a `send` and a `receive` operation, and an
/// `x-switchyard` extension holding the policy.
public enum AsyncAPIDocument {
    /// The document as a JSON value.
    public static func make(from registry: ContractRegistry, title: String = "Switchyard channels", version: String = "1.0.0") -> JSONValue {
        var channels = JSONObject()
        var operations = JSONObject()
        var messages = JSONObject()
        var schemas: JSONObject = ["Envelope": envelopeSchema]
        var used: Set<String> = ["Envelope"]
        for contract in registry.contracts {
            var key = identifier(for: contract.channel.rawValue)
            if used.contains(key) {
                var suffix = 2
                while used.contains("\(key)_\(suffix)") { suffix += 1 }
                key = "\(key)_\(suffix)"
            }
            used.insert(key)
            let (address, parameters) = address(for: contract.channel)
            var channel: JSONObject = [
                "address": .string(address),
                "title": .string(contract.channel.rawValue),
                "description": .string(contract.description),
                "messages": .object([key: .object(["$ref": .string("#/components/messages/\(key)")])]),
                "x-switchyard": policy(contract),
            ]
            if !parameters.isEmpty { channel["parameters"] = .object(parameters) }
            channels[key] = .object(channel)
            for (action, verb) in [("send", "publish"), ("receive", "consume")] {
                operations["\(verb)_\(key)"] = .object([
                    "action": .string(action),
                    "channel": .object(["$ref": .string("#/channels/\(key)")]),
                    "messages": .array([.object(["$ref": .string("#/channels/\(key)/messages/\(key)")])]),
                ])
            }
            var payload = envelopeSchema
            if case .object(var object) = payload, case .object(var properties)? = object["properties"] {
                properties["data"] = .object(["$ref": .string("#/components/schemas/\(key)")])
                properties["schema"] = .object(["const": .string(contract.id)])
                object["properties"] = .object(properties)
                payload = .object(object)
            }
            var message: JSONObject = [
                "name": .string(contract.channel.rawValue),
                "title": .string(contract.id),
                "contentType": "application/json",
                "payload": payload,
            ]
            if let first = contract.validExamples.first {
                message["examples"] = .array([.object(["name": "valid", "payload": .object(["data": first])])])
            }
            messages[key] = .object(message)
            schemas[key] = relocated(withoutDialect(contract.schema), to: "#/components/schemas/\(key)")
        }
        return .object([
            "asyncapi": "3.0.0",
            "info": .object([
                "title": .string(title),
                "version": .string(version),
                "description": "Channels routed by Switchyard. Every message is a Switchyard envelope whose `data` is the channel's payload.",
            ]),
            "defaultContentType": "application/json",
            "channels": .object(channels),
            "operations": .object(operations),
            "components": .object(["messages": .object(messages), "schemas": .object(schemas)]),
        ])
    }

    /// The envelope's schema, as on the wire.
    public static let envelopeSchema: JSONValue = [
        "type": "object",
        "required": ["event_id", "channel", "topic", "sequence_number", "timestamp", "source", "schema", "data"],
        "properties": [
            "event_id": ["type": "string", "format": "uuid", "description": "UUIDv7; the dedup key"],
            "channel": ["type": "string"],
            "topic": ["type": "string", "description": "the channel again, as REC.IO's {topic, timestamp, data, metadata} names it"],
            "sequence_number": ["type": "integer", "minimum": 1, "description": "per channel, strictly increasing, gap-free"],
            "timestamp": ["type": "string", "format": "date-time", "description": "RFC 3339, milliseconds, UTC"],
            "event_time": ["type": "string", "description": "the publisher's own time, from a whole message's timestamp"],
            "source": ["type": "string"],
            "schema": ["type": "string", "description": "CONTRACT@VERSION"],
            "data": ["type": "object"],
            "metadata": ["type": "object", "description": "trace context (traceparent), session, user"],
        ],
    ]

    /// A contract's policy as JSON (`x-switchyard`): retention, size, rate limit, delivery, live message, keys.
    public static func policy(_ contract: Contract) -> JSONValue {
        let policy = contract.policy
        return [
            "contract": .string(contract.id),
            "origin": contract.origin.map { .string($0) } ?? .null,
            "retention": .string(DurationText.text(seconds: policy.retentionSeconds)),
            "max_size_bytes": .int(Int64(policy.maxSizeBytes)),
            "rate_limit": ["per_second": .int(Int64(policy.rateLimit.perSecond)), "burst": .int(Int64(policy.rateLimit.burst))],
            "delivery": .string(policy.delivery.rawValue),
            "live_message": .string(policy.liveMessage.rawValue),
            "acknowledge": .string(policy.acknowledge?.rawValue ?? "default"),
            "conflatable": .bool(policy.conflatable),
            "critical": .bool(policy.critical),
            "producers": .array(policy.producers.map { .string($0) }),
            "consumers": .array(policy.consumers.map { .string($0) }),
            "stream_key": .string("stream:{\(contract.channel.rawValue)}"),
        ]
    }

    private static func address(for pattern: ChannelPattern) -> (String, JSONObject) {
        guard !pattern.isLiteral else { return (pattern.rawValue, [:]) }
        var address = ""
        var parameters = JSONObject()
        var characters = pattern.rawValue.makeIterator()
        func parameter(_ token: String) {
            let name = "wildcard\(parameters.count + 1)"
            address += "{\(name)}"
            parameters[name] = .object(["description": .string("the text matched by '\(token)' in the pattern \(pattern.rawValue)")])
        }
        while let character = characters.next() {
            switch character {
            case "*", "?":
                parameter(String(character))
            case "[":
                var token = "["
                while let next = characters.next() {
                    token.append(next)
                    if next == "]" { break }
                }
                parameter(token)
            case "\\":
                if let escaped = characters.next() { address.append(escaped) }
            default:
                address.append(character)
            }
        }
        return (address, parameters)
    }

    /// Rewrites the document-local `$ref`s of a schema moved to `base`, so they still resolve.
    private static func relocated(_ schema: JSONValue, to base: String) -> JSONValue {
        switch schema {
        case .object(let object):
            var moved = JSONObject()
            for (key, value) in object {
                if key == "$ref", let reference = value.stringValue, reference.hasPrefix("#") {
                    moved[key] = .string(base + reference.dropFirst())
                } else if key == "enum" || key == "const" || key == "examples" || key == "default" {
                    moved[key] = value
                } else {
                    moved[key] = relocated(value, to: base)
                }
            }
            return .object(moved)
        case .array(let elements):
            return .array(elements.map { relocated($0, to: base) })
        default:
            return schema
        }
    }

    private static func identifier(for channel: String) -> String {
        var identifier = ""
        for character in channel {
            switch character {
            case "*": identifier += "any"
            case "?": identifier += "one"
            case _ where character.isLetter || character.isNumber || character == "_" || character == "-": identifier.append(character)
            default: identifier.append("_")
            }
        }
        return identifier
    }

    private static func withoutDialect(_ schema: JSONValue) -> JSONValue {
        guard case .object(var object) = schema else { return schema }
        object["$schema"] = nil
        return .object(object)
    }
}
