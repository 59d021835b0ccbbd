-- Delete the key. ARGV: mode, channel, key, history versions, history max age (ms).
-- Returns the deletion's seq, or 0 if the key did not exist.
local channel, key = ARGV[2], ARGV[3]
local current = redis.call("HMGET", KEYS[1], "v", "s")
local old, old_seq = current[1], current[2]
if not old then
  return 0
end
local seq = next_seq(old_seq)
if SINGLE then
  local now = now_ms()
  local versions, max_age = tonumber(ARGV[4]), tonumber(ARGV[5])
  remember(tonumber(old_seq), "v", old, versions, max_age, now)
  remember(seq, "d", "", versions, max_age, now)
  redis.call("HINCRBY", KEYS[5], "keys", -1)
  redis.call("HINCRBY", KEYS[5], "bytes", -#old)
end
redis.call("DEL", KEYS[1])
publish(channel, key, seq, "d", "")
return seq
