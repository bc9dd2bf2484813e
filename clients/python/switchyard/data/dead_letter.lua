-- Switchyard dead letter: moves one pending entry of a group to the channel's dead-letter stream.
-- KEYS[1] dlq:{C}   KEYS[2] stream:{C}
-- ARGV[1] group   ARGV[2] the entry's stream id   ARGV[3] envelope   ARGV[4] error (JSON body)
-- ARGV[5] deliveries   ARGV[6] failed_at (RFC 3339)
-- Adds {envelope, group, error, deliveries, failed_at, stream_id} to dlq:{C} and XACKs the entry, in one step.
-- Returns the dead letter's id in dlq:{C}.
local id = redis.call('XADD', KEYS[1], '*', 'envelope', ARGV[3], 'group', ARGV[1], 'error', ARGV[4],
  'deliveries', ARGV[5], 'failed_at', ARGV[6], 'stream_id', ARGV[2])
redis.call('XACK', KEYS[2], ARGV[1], ARGV[2])
return id
