import JSONSchema
import Switchyard

extension RouterReports {
    /// `{"key", "ttl", "ttl_seconds"}`: what a state write set (`ttl` as the table writes it,
    /// both `null` when the key never expires).
    public static func stateReceipt(_ receipt: StateReceipt) -> JSONValue {
        [
            "key": .string(receipt.key.rawValue),
            "ttl": receipt.ttl.map { .string(DurationText.text(seconds: Int($0.components.seconds))) } ?? .null,
            "ttl_seconds": receipt.ttl.map { .int($0.components.seconds) } ?? .null,
        ]
    }

    /// `{"key", "value", "ttl_seconds", "family"}`: a state key's value and the seconds it still
    /// lives (rounded up, as Redis's `TTL` shows them; `null` when it never expires).
    public static func stateValue(_ value: StateValue) -> JSONValue {
        [
            "key": .string(value.key.rawValue), "value": value.value,
            "ttl_seconds": value.remaining.map { .int(secondsRoundedUp($0)) } ?? .null,
            "family": .string(value.entry?.key.rawValue ?? StateStore.otherFamily),
        ]
    }

    /// `{"keys":[…]}`: the state-key table, one entry per key or pattern, and for plain keys that
    /// `readable` accepts their `current` value (`{"value", "ttl_seconds"}`, `null` when missing).
    public func stateKeys(readable: (ChannelName) -> Bool = { _ in true }) async throws(SwitchyardError) -> JSONValue {
        var keys: [JSONValue] = []
        for entry in router.state.keys.entries {
            var item: JSONObject = [
                "key": .string(entry.key.rawValue), "pattern": .bool(!entry.key.isLiteral),
                "ttl": entry.ttlText.map { .string($0) } ?? .null,
                "ttl_seconds": entry.ttl.map { .int($0.components.seconds) } ?? .null,
                "origin": entry.origin.map { .string($0) } ?? .null, "description": .string(entry.description),
                "has_schema": .bool(entry.schema != nil),
            ]
            if entry.key.isLiteral, let key = try? StateKey(entry.key.rawValue), readable(key) {
                item["current"] = try await router.state.get(key).map { (value: StateValue) -> JSONValue in
                    ["value": value.value, "ttl_seconds": value.remaining.map { .int(Self.secondsRoundedUp($0)) } ?? .null]
                } ?? .null
            }
            keys.append(.object(item))
        }
        return ["keys": .array(keys)]
    }

    private static func secondsRoundedUp(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return attoseconds > 0 ? seconds + 1 : seconds
    }
}
