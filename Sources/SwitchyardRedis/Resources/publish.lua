-- Switchyard publish: stores a batch of events of ONE channel, each as one atomic step.
-- Wire format: docs/wire-format.md. Every key carries the channel's hash tag {C}.
--
-- KEYS[1] stream:{C}   KEYS[2] seq:{C}   KEYS[3] latest:{C}   KEYS[4] rate:{C}:SOURCE
-- KEYS[5] meta:{C} (hash: last_ms, retention_ms, trimmed_undelivered)
-- KEYS[5+i] dedup:{C}:EVENT_ID_i
-- ARGV[1] channel        ARGV[2] retention ms     ARGV[3] dedup window ms   ARGV[4] hard cap (entries, 0 = none)
-- ARGV[5] live: "publish" | "spublish" | "none" | "payload" | "companion" (payload mode, below)   ARGV[6] "1" store in the stream, "0" live only
-- ARGV[7] rate per second (0 = no limit)          ARGV[8] burst             ARGV[9] now (unix ms; "" = server TIME)
-- ARGV[10] N, then per event i: ARGV[10+3i-2] accepted-at (unix ms), ARGV[10+3i-1] the envelope's JSON up to
--   and including `"sequence_number":`, ARGV[10+3i] the rest from `,"source":` on.
-- The script writes `SEQ,"timestamp":"RFC3339"` between them, SEQ = INCR seq:{C}, the time = the stream id's ms.
-- Optional, after those: KEYS[6+N] a state key, ARGV[11+3N] its value, ARGV[12+3N] its TTL ms (see below).
-- Returns {1, 0, trimmed_undelivered, {stored 1|0, seq, stream id, ms}...} or {0, retry_after_ms, 0} when the
-- token bucket refuses the batch (nothing is stored).
local channel, retention, window, cap = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local live, store = ARGV[5], ARGV[6] == '1'
local rate, burst, n = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[10])
local now = tonumber(ARGV[9])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- a dedup mark is "seq id ms expires_at"; it counts while expires_at > now
local function mark(i)
  local value = redis.call('GET', KEYS[5 + i])
  if not value then return nil end
  local seq, id, ms, expires = string.match(value, '^(%d+) (%S*) (%d+) (%d+)$')
  if not seq or tonumber(expires) <= now then return nil end
  return {tonumber(seq), id, tonumber(ms)}
end

local fresh = 0
for i = 1, n do
  if not mark(i) then fresh = fresh + 1 end
end
if rate > 0 and fresh > 0 then
  local bucket = redis.call('HMGET', KEYS[4], 'tokens', 'at')
  local tokens, at = tonumber(bucket[1]) or burst, tonumber(bucket[2]) or now
  tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
  if tokens < fresh then
    return {0, math.ceil((fresh - tokens) * 1000 / rate), 0}
  end
  redis.call('HSET', KEYS[4], 'tokens', tostring(tokens - fresh), 'at', tostring(math.max(now, at)))
  redis.call('PEXPIRE', KEYS[4], math.ceil(burst * 1000 / rate) + 60000)
end

local function parse(id)
  local ms, c = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(c)
end
local function before(a, b)
  local am, ac = parse(a)
  local bm, bc = parse(b)
  return am < bm or (am == bm and ac < bc)
end

-- civil date from unix ms (H. Hinnant's algorithm), as RFC 3339 with milliseconds, UTC
local function rfc3339(ms)
  local s = math.floor(ms / 1000)
  local days = math.floor(s / 86400)
  local sod = s - days * 86400
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return string.format('%04d-%02d-%02dT%02d:%02d:%02d.%03dZ', y, m, d,
    math.floor(sod / 3600), math.floor(sod / 60) % 60, sod % 60, ms - s * 1000)
end

-- the trim guard: the slowest group's last-delivered id; entries after it are undelivered
local slowest = nil
if store and redis.call('EXISTS', KEYS[1]) == 1 then
  for _, group in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
    for f = 1, #group, 2 do
      if group[f] == 'last-delivered-id' and (slowest == nil or before(group[f + 1], slowest)) then
        slowest = group[f + 1]
      end
    end
  end
end
local minid = math.max(0, now - retention) .. '-0'
if slowest then
  local sm, sc = parse(slowest)
  local guard = sm .. '-' .. (sc + 1)
  if before(guard, minid) then minid = guard end
end

-- stream ids (and so timestamps) never go backwards, whatever the callers' clocks say
local last = tonumber(redis.call('HGET', KEYS[5], 'last_ms'))
if not last then
  last = 0
  local newest = store and redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
  if newest then last = parse(newest[1]) end
end
-- payload mode: "payload" PUBLISHes the bare payload (the envelope's data) on C for plain
-- subscribers, after marking its bytes as Switchyard's own for a bridge (bridge:echo:{C}:SHA1, 60 s);
-- "companion" skips that (the plain publisher already sent it). Both PUBLISH the envelope on
-- switchyard:envelope:C, where Switchyard's live feed reads it.
local function skip_string(s, i) -- s[i] is the opening quote; returns the index after the closing one
  i = i + 1
  while true do
    local j = string.find(s, '["\\]', i)
    if string.sub(s, j, j) == '"' then return j + 1 end
    i = j + 2
  end
end
local function skip_value(s, i)
  local c = string.sub(s, i, i)
  if c == '"' then return skip_string(s, i) end
  if c ~= '{' and c ~= '[' then return string.find(s, '[,}%]]', i) end
  local depth = 0
  while true do
    local j = string.find(s, '["{}%[%]]', i)
    if string.sub(s, j, j) == '"' then
      i = skip_string(s, j)
    else
      if string.find('{[', string.sub(s, j, j), 1, true) then depth = depth + 1 else depth = depth - 1 end
      i = j + 1
      if depth == 0 then return i end
    end
  end
end
local function publish_payload_mode(i, envelope)
  if live == 'payload' then
    local suffix = ARGV[10 + 3 * i] -- [,"event_time":"…"],"source":"…","schema":"…","data":DATA,"metadata":{…}}
    local at = 1
    if string.sub(suffix, 1, 14) == ',"event_time":' then at = skip_string(suffix, 15) end
    local start = skip_string(suffix, skip_string(suffix, at + 10) + 10) + 8
    local data = string.sub(suffix, start, skip_value(suffix, start) - 1)
    redis.call('SET', 'bridge:echo:{' .. channel .. '}:' .. redis.sha1hex(data), '1', 'PX', 60000)
    redis.call('PUBLISH', channel, data)
  end
  redis.call('PUBLISH', 'switchyard:envelope:' .. channel, envelope)
end

local replies = {}
for i = 1, n do
  local existing = mark(i)
  if existing then
    replies[i] = {0, existing[1], existing[2], existing[3]}
  else
    local ms = math.max(tonumber(ARGV[10 + 3 * i - 2]), last)
    last = ms
    local seq = redis.call('INCR', KEYS[2])
    local envelope = ARGV[10 + 3 * i - 1] .. seq .. ',"timestamp":"' .. rfc3339(ms) .. '"' .. ARGV[10 + 3 * i]
    local id = ms .. '-0'
    if store then
      id = redis.call('XADD', KEYS[1], 'MINID', minid, ms .. '-*', 'envelope', envelope)
    end
    redis.call('SET', KEYS[3], envelope, 'PX', math.max(1, retention))
    redis.call('SET', KEYS[5 + i], seq .. ' ' .. id .. ' ' .. ms .. ' ' .. (now + window), 'PX', math.max(1, window))
    if live == 'publish' then redis.call('PUBLISH', channel, envelope)
    elseif live == 'spublish' then redis.call('SPUBLISH', channel, envelope)
    elseif live == 'payload' or live == 'companion' then publish_payload_mode(i, envelope) end
    replies[i] = {1, seq, id, ms}
  end
end
redis.call('HSET', KEYS[5], 'last_ms', last, 'retention_ms', retention)

-- optional state key, set with the last event when it was stored (not for a duplicate):
-- KEYS[6+N] the key (no hash tag), ARGV[11+3N] its JSON value, ARGV[12+3N] its TTL in ms (0 = no expiry)
if #KEYS > 5 + n and replies[n][1] == 1 then
  local ttl = tonumber(ARGV[12 + 3 * n])
  if ttl > 0 then redis.call('SET', KEYS[6 + n], ARGV[11 + 3 * n], 'PX', ttl)
  else redis.call('SET', KEYS[6 + n], ARGV[11 + 3 * n]) end
end

-- the hard cap: trims even undelivered entries, and counts those
local overrun = 0
if store and cap > 0 then
  local excess = redis.call('XLEN', KEYS[1]) - cap
  if excess > 0 then
    if slowest then
      for _, entry in ipairs(redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', excess)) do
        if before(slowest, entry[1]) then overrun = overrun + 1 end
      end
    end
    redis.call('XTRIM', KEYS[1], 'MAXLEN', cap)
    if overrun > 0 then redis.call('HINCRBY', KEYS[5], 'trimmed_undelivered', overrun) end
  end
end
local result = {1, 0, overrun}
for i = 1, n do result[3 + i] = replies[i] end
return result
