import JSONSchema

/// Writes an AsyncAPI 3.0 document describing the channels of a contract registry.
///
/// Each contract becomes a channel (its address; a pattern's `*` becomes a `{wildcardN}`
/// parameter), a message whose payload is the Switchyard envelope with `data` set to the
/// contract's schema, a `send` and a `receive` operation, and an `x-switchyard` extension
/// holding the policy.
public enum AsyncAPIDocument {
    /// The document as a JSON value.
    public static func make(from registry: ContractRegistry, title: String = "Switchyard channels", version: String = "1.0.0") -> JSONValue {
        var channels = JSONObject()
        var operations = JSONObject()
        var messages = JSONObject()
        for contract in registry.contracts {
            let key = identifier(for: contract.channel.rawValue)
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
                properties["data"] = withoutDialect(contract.schema)
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
            "components": .object(["messages": .object(messages), "schemas": .object(["Envelope": envelopeSchema])]),
        ])
    }

    /// The envelope's schema, as on the wire.
    public static let envelopeSchema: JSONValue = [
        "type": "object",
        "required": ["event_id", "channel", "sequence_number", "timestamp", "source", "schema", "data"],
        "properties": [
            "event_id": ["type": "string", "format": "uuid", "description": "UUIDv7; the dedup key"],
            "channel": ["type": "string"],
            "sequence_number": ["type": "integer", "minimum": 1, "description": "per channel, strictly increasing, gap-free"],
            "timestamp": ["type": "string", "format": "date-time", "description": "RFC 3339, milliseconds, UTC"],
            "source": ["type": "string"],
            "schema": ["type": "string", "description": "CONTRACT@VERSION"],
            "data": ["type": "object"],
            "metadata": ["type": "object", "description": "trace context (traceparent), session, user"],
        ],
    ]

    private static func policy(_ contract: Contract) -> JSONValue {
        let policy = contract.policy
        return [
            "contract": .string(contract.id),
            "origin": contract.origin.map { .string($0) } ?? .null,
            "retention": .string(DurationText.text(seconds: policy.retentionSeconds)),
            "max_size_bytes": .int(Int64(policy.maxSizeBytes)),
            "rate_limit": ["per_second": .int(Int64(policy.rateLimit.perSecond)), "burst": .int(Int64(policy.rateLimit.burst))],
            "delivery": .string(policy.delivery.rawValue),
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
        for character in pattern.rawValue {
            if character == "*" {
                let name = "wildcard\(parameters.count + 1)"
                address += "{\(name)}"
                parameters[name] = .object(["description": .string("any text matched by '*' in the pattern \(pattern.rawValue)")])
            } else {
                address.append(character)
            }
        }
        return (address, parameters)
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
