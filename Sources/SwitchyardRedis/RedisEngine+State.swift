import NIOCore
import RESP
import RedisClient
import Switchyard

extension PublishScript {
    /// Adds a state key for the script to set with the call's last event, once it is stored: the
    /// key as one more KEY, its value and TTL (ms, 0 = none) as two trailing ARGV (docs/wire-format.md).
    mutating func setting(_ state: StateAssignment) {
        keys.append(state.key.rawValue)
        arguments.append(ByteBuffer(string: state.json))
        arguments.append(ByteBuffer(string: String(state.ttl.map { max(1, $0.milliseconds) } ?? 0)))
    }
}

extension RedisEngine {
    /// `SET key value PX ttl` (or without expiry): a plain string key, no hash tag, so any client
    /// reads it with `GET key`.
    public func setState(_ assignment: StateAssignment) async throws(SwitchyardError) {
        let expiration = assignment.ttl.map { SET.Expiration.milliseconds(Int(max(1, $0.milliseconds))) }
        do {
            _ = try await client.execute(SET(assignment.key.rawValue, value: assignment.json, expiration: expiration))
        } catch {
            throw SwitchyardError.redis(error, "setting state key \(assignment.key)")
        }
    }

    /// `GET key` and `PTTL key` in one script; `nil` when the key is missing or expired.
    public func state(_ key: StateKey) async throws(SwitchyardError) -> StoredState? {
        let reply: RESPValue
        do {
            reply = try await client.execute(Self.readState, keys: [key.rawValue])
        } catch {
            throw SwitchyardError.redis(error, "reading state key \(key)")
        }
        guard let fields = reply.elements, fields.count == 2, let json = fields[0].string, let milliseconds = fields[1].int else { return nil }
        return StoredState(json: json, remaining: milliseconds >= 0 ? .milliseconds(milliseconds) : nil)
    }

    /// Publishes one event with `publish.lua`, which sets the state key in the same script when the
    /// event is stored. Never spooled: while Redis is unreachable (or the spool holds events) it
    /// is refused with `engine_unavailable`, since the key could not be set with the event.
    public func append(_ request: AppendRequest, then assignment: StateAssignment) async throws(SwitchyardError) -> PublishReceipt {
        if !configuration.failFast, let spool, try await spool.depth > 0 {
            throw SwitchyardError(.engineUnavailable, "the spool holds events until Redis returns; a publish with a state write is not spooled")
        }
        do {
            return try await store([request], enforcesRateLimits: true, state: assignment)[0]
        } catch {
            guard error.unreachable else { throw error.error }
            throw SwitchyardError(
                .engineUnavailable, "Redis is unreachable and the publish with its state write was not stored",
                details: ["redis_error": .string(error.error.message)])
        }
    }

    /// `{value, pttl}`, or an empty reply when the key is missing.
    static let readState = RedisScript(
        #"""
        local value = redis.call('GET', KEYS[1])
        if not value then return {} end
        return {value, redis.call('PTTL', KEYS[1])}
        """#)
}
