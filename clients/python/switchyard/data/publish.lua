-- Switchyard publish: stores a batch of events of ONE channel, each as one atomic step.
-- Wire format: docs/wire-format.md. Every key carries the channel's hash tag {C}.
--
-- KEYS[1] stream:{C}   KEYS[2] seq:{C}   KEYS[3] latest:{C}   KEYS[4] rate:{C}:SOURCE
-- KEYS[5] meta:{C} (hash: last_ms, first_ms, retention_ms, trimmed_undelivered)
-- KEYS[5+i] dedup:{C}:EVENT_ID_i
-- ARGV[1] channel        ARGV[2] retention ms     ARGV[3] dedup window ms   ARGV[4] hard cap (entries, 0 = none)
-- ARGV[5] live: "publish" | "spublish" | "none" | "payload" | "companion" (payload mode, below)   ARGV[6] "1" store in the stream, "0" live only
-- ARGV[7] rate per second (0 = no limit)          ARGV[8] burst             ARGV[9] now (unix ms; "" = server TIME)
-- ARGV[10] N, then per event i: ARGV[10+3i-2] accepted-at (unix ms), ARGV[10+3i-1] the envelope's JSON up to
--   and including `"sequence_number":`, ARGV[10+3i] the rest: `,"timestamp":"RFC3339"` of accepted-at (with
--   milliseconds, UTC: 39 bytes), then `,"source":` on. The script writes SEQ between them (from seq:{C}) and
--   rewrites the timestamp when the stream id had to move past accepted-at (ids never go backwards).
--   A rest without the timestamp (from `,"source":` on) gets it from the script.
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

-- a dedup mark is "seq id ms expires_at"; it counts while expires_at > now. Each mark is read once; an
-- event id that comes twice in one call is a duplicate of its first occurrence.
local marks, repeats, seen, fresh, repeated = {}, {}, {}, 0, false
for from = 1, n, 1000 do
  local upto = math.min(n, from + 999)
  local values = redis.call('MGET', unpack(KEYS, 5 + from, 5 + upto))
  for i = from, upto do
    local value = values[i - from + 1]
    if value then
      local seq, id, ms, expires = string.match(value, '^(%d+) (%S*) (%d+) (%d+)$')
      if seq and tonumber(expires) > now then marks[i] = {tonumber(seq), id, tonumber(ms)} end
    end
    if not marks[i] then
      local j = seen[KEYS[5 + i]]
      if j then repeats[i] = j; repeated = true else seen[KEYS[5 + i]] = i; fresh = fresh + 1 end
    end
  end
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

-- meta:{C}: last_ms (the newest stream id's ms) and first_ms (the oldest entry's ms, or absent when unknown)
local meta = redis.call('HMGET', KEYS[5], 'last_ms', 'first_ms')
local last, first = tonumber(meta[1]), tonumber(meta[2])
local function oldest()
  local entry = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
  return entry and parse(entry[1]) or nil
end

-- the trim guard: the slowest group's last-delivered id; entries after it are undelivered
local slowest, guarded = nil, false
local function guard()
  if guarded then return slowest end
  guarded = true
  for _, group in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
    for f = 1, #group, 2 do
      if group[f] == 'last-delivered-id' and (slowest == nil or before(group[f + 1], slowest)) then
        slowest = group[f + 1]
      end
    end
  end
  return slowest
end

-- retention: entries older than now - retention go, in steps: a trim runs once the oldest entry is
-- older than that by 1/16 of the retention (at most 1 s), so the groups' positions are read once per
-- step, not on every call. The trim never passes the entry after the slowest group's position.
if store and (first == nil or first < now - retention - math.min(1000, math.floor(retention / 16))) then
  if redis.call('EXISTS', KEYS[1]) == 1 then
    local minid = math.max(0, now - retention) .. '-0'
    local floor = guard()
    if floor then
      local sm, sc = parse(floor)
      local after = sm .. '-' .. (sc + 1)
      if before(after, minid) then minid = after end
    end
    redis.call('XTRIM', KEYS[1], 'MINID', minid)
    first = oldest()
  else
    first = nil
  end
end

-- stream ids (and so timestamps) never go backwards, whatever the callers' clocks say
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
    local suffix = ARGV[10 + 3 * i] -- [,"timestamp":"…"][,"event_time":"…"],"source":"…","schema":"…","data":DATA,"metadata":{…}}
    local at = 1
    if string.sub(suffix, 1, 14) == ',"timestamp":"' then at = 40 end
    if string.sub(suffix, at, at + 13) == ',"event_time":' then at = skip_string(suffix, at + 14) end
    local start = skip_string(suffix, skip_string(suffix, at + 10) + 10) + 8
    local data = string.sub(suffix, start, skip_value(suffix, start) - 1)
    redis.call('SET', 'bridge:echo:{' .. channel .. '}:' .. redis.sha1hex(data), '1', 'PX', 60000)
    redis.call('PUBLISH', channel, data)
  end
  redis.call('PUBLISH', 'switchyard:envelope:' .. channel, envelope)
end

-- the sequence numbers of the new events, taken at once; numbers are turned into text once per call
-- where they can be, and whole numbers with '%d' (Lua's own number formatting goes through printf's
-- floating-point path, a large share of the script's own time, and writes 1e14 and above as 1e+14)
local function whole(number) return string.format('%d', number) end
local seq = fresh > 0 and redis.call('INCRBY', KEYS[2], fresh) - fresh or 0
local mark_tail, mark_px = ' ' .. whole(now + window), whole(math.max(1, window))
local replies, latest = {}, nil
for i = 1, n do
  local existing = marks[i] or (repeats[i] and marks[repeats[i]])
  if existing then
    replies[i] = {0, existing[1], existing[2], existing[3]}
  else
    local accepted_text = ARGV[10 + 3 * i - 2]
    local accepted = tonumber(accepted_text)
    local ms, ms_text = accepted, accepted_text
    if accepted < last then ms, ms_text = last, whole(last) end
    last = ms
    seq = seq + 1
    local seq_text = whole(seq)
    -- SUFFIX starts with the timestamp of ACCEPTED_AT_MS (39 bytes, `,"t…`); it is rewritten only when
    -- the stream id had to move past it. A SUFFIX without it (`,"s…` or `,"e…`) gets it here.
    local suffix = ARGV[10 + 3 * i]
    if string.byte(suffix, 3) ~= 116 then
      suffix = ',"timestamp":"' .. rfc3339(ms) .. '"' .. suffix
    elseif ms ~= accepted then
      suffix = ',"timestamp":"' .. rfc3339(ms) .. '"' .. string.sub(suffix, 40)
    end
    local envelope = ARGV[10 + 3 * i - 1] .. seq_text .. suffix
    local id = ms_text .. '-0'
    if store then
      id = redis.call('XADD', KEYS[1], ms_text .. '-*', 'envelope', envelope)
      if not first then first = ms end
    end
    latest = envelope
    redis.call('SET', KEYS[5 + i], seq_text .. ' ' .. id .. ' ' .. ms_text .. mark_tail, 'PX', mark_px)
    if live == 'publish' then redis.call('PUBLISH', channel, envelope)
    elseif live == 'spublish' then redis.call('SPUBLISH', channel, envelope)
    elseif live == 'payload' or live == 'companion' then publish_payload_mode(i, envelope) end
    replies[i] = {1, seq, id, ms}
    if repeated then marks[i] = {seq, id, ms} end
  end
end
if latest then redis.call('SET', KEYS[3], latest, 'PX', whole(math.max(1, retention))) end

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
    local floor = guard()
    if floor then
      for _, entry in ipairs(redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', excess)) do
        if before(floor, entry[1]) then overrun = overrun + 1 end
      end
    end
    redis.call('XTRIM', KEYS[1], 'MAXLEN', cap)
    if overrun > 0 then redis.call('HINCRBY', KEYS[5], 'trimmed_undelivered', overrun) end
    first = oldest()
  end
end
if first then
  redis.call('HSET', KEYS[5], 'last_ms', whole(last), 'retention_ms', whole(retention), 'first_ms', whole(first))
else
  redis.call('HSET', KEYS[5], 'last_ms', whole(last), 'retention_ms', whole(retention))
  redis.call('HDEL', KEYS[5], 'first_ms')
end
local result = {1, 0, overrun}
for i = 1, n do result[3 + i] = replies[i] end
return result
