import Foundation
import RedisClient

/// The engine's server-side scripts. `publish.lua` and `dead_letter.lua` ship as resources, so
/// other languages can load the same source (docs/wire-format.md); the rest are read helpers.
enum RedisEngineScripts {
    /// One batch of one channel: dedup, rate limit, sequence, append with the trim guard, latest, publish.
    static let publish = RedisScript(resource("publish"))
    /// Adds an entry to `dlq:{C}` and acks it in the group, in one step.
    static let deadLetter = RedisScript(resource("dead_letter"))

    /// Reads the source of a shipped script.
    static func resource(_ name: String) -> String {
        guard let url = Bundle.module.url(forResource: name, withExtension: "lua"),
            let source = try? String(contentsOf: url, encoding: .utf8)
        else { preconditionFailure("the SwitchyardRedis bundle lacks \(name).lua") }
        return source
    }

    /// Entries from the first whose envelope's `sequence_number` is at least ARGV[1], at most ARGV[2] of them.
    /// Binary search over the stream ids' milliseconds (sequence numbers grow with ids), then one XRANGE.
    static let readBySequence = RedisScript(
        #"""
        local wanted, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
        local function seq(entry)
          return tonumber(string.match(entry[2][2], '"sequence_number":(%d+)'))
        end
        local function ms(id) return tonumber(string.match(id, '^(%d+)-')) end
        local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
        if not first then return {} end
        local firstSeq = seq(first)
        if wanted <= firstSeq then return redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', limit) end
        local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
        if seq(last) < wanted then return {} end
        local lo, hi, atLo = ms(first[1]), ms(last[1]), firstSeq
        while lo < hi do
          local mid = math.floor((lo + hi + 1) / 2)
          local probe = redis.call('XRANGE', KEYS[1], mid .. '-0', '+', 'COUNT', 1)[1]
          local s = seq(probe)
          if s <= wanted then lo, atLo = mid, s else hi = mid - 1 end
        end
        local out = {}
        for _, entry in ipairs(redis.call('XRANGE', KEYS[1], lo .. '-0', '+', 'COUNT', limit + wanted - atLo)) do
          if seq(entry) >= wanted then out[#out + 1] = entry end
        end
        return out
        """#)

    /// Whether the token bucket KEYS[1] holds ARGV[4] tokens at ARGV[3] ms (rate ARGV[1]/s, burst ARGV[2]),
    /// without taking them: 0, or the milliseconds to wait. Checks a batch over several channels first.
    static let peekTokens = RedisScript(
        #"""
        local rate, burst, now, need = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
        local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
        local tokens, at = tonumber(bucket[1]) or burst, tonumber(bucket[2]) or now
        tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
        if tokens >= need then return 0 end
        return math.ceil((need - tokens) * 1000 / rate)
        """#)

    /// A channel's state: {length, first envelope or false, last sequence, {group names}, trimmed undelivered, dead letters}.
    /// KEYS: stream, seq, meta, dlq.
    static let info = RedisScript(
        #"""
        local length, first, groups = 0, false, {}
        if redis.call('EXISTS', KEYS[1]) == 1 then
          length = redis.call('XLEN', KEYS[1])
          local entry = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
          if entry then first = entry[2][2] end
          for _, group in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
            for f = 1, #group, 2 do
              if group[f] == 'name' then groups[#groups + 1] = group[f + 1] end
            end
          end
        end
        local sequence = tonumber(redis.call('GET', KEYS[2]) or '0')
        local trimmed = tonumber(redis.call('HGET', KEYS[3], 'trimmed_undelivered') or '0')
        return {length, first, sequence, groups, trimmed, redis.call('XLEN', KEYS[4])}
        """#)

    /// Requeues dead letters: each goes back to its group's pending list (XCLAIM ... FORCE, idle since
    /// long ago, RETRYCOUNT 0), so the group's next claim delivers it again, and leaves `dlq:{C}`.
    /// Letters whose event was trimmed from the stream, or whose group is gone, stay. Returns the count.
    /// KEYS: dlq, stream. ARGV: the dead letters' ids.
    static let requeue = RedisScript(
        #"""
        local moved = 0
        for _, id in ipairs(ARGV) do
          local letter = redis.call('XRANGE', KEYS[1], id, id)[1]
          if letter then
            local fields = {}
            for f = 1, #letter[2], 2 do fields[letter[2][f]] = letter[2][f + 1] end
            if fields['group'] and fields['stream_id'] then
              local ok, claimed = pcall(redis.call, 'XCLAIM', KEYS[2], fields['group'], 'switchyard-requeue', 0,
                fields['stream_id'], 'IDLE', 1000000000000, 'RETRYCOUNT', 0, 'FORCE')
              if ok and #claimed > 0 then
                redis.call('XDEL', KEYS[1], id)
                moved = moved + 1
              end
            end
          end
        end
        return moved
        """#)
}
