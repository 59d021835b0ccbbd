-- Merge ARGV[4] (an encoded lattice of type TYPE_TAG, defined above this body: one script
-- per lattice type) into the key. ARGV: mode, channel, key, value, history versions,
-- history max age (ms), expiry (ms; 0: none). Returns {merged value, its seq, 1 if changed
-- else 0}. A value with an expiry is removed by Redis itself (PEXPIRE): it is not counted
-- in the stats (nothing would uncount it) and no change is published when it goes.
local channel, key, new = ARGV[2], ARGV[3], ARGV[4]
local current = redis.call("HMGET", KEYS[1], "v", "s")
local old, old_seq = current[1], current[2]
local merged = new
if old then
  local kind = sbyte(old, 2)
  if kind ~= TYPE_TAG then
    fail("CBKIND " .. kind)
  end
  if old == new then
    return {old, tonumber(old_seq), 0}
  end
  local mine = parse(old, 2)
  local result = merge(mine, parse(new, 2))
  if result == mine then
    return {old, tonumber(old_seq), 0}
  end
  merged = schar(1) .. encode(result)
end
local seq = next_seq(old_seq)
local expire_ms = tonumber(ARGV[7] or "0")
if SINGLE then
  if old then
    remember(tonumber(old_seq), "v", old, tonumber(ARGV[5]), tonumber(ARGV[6]), now_ms())
    if expire_ms == 0 then
      redis.call("HINCRBY", KEYS[5], "bytes", #merged - #old)
    else
      -- the key's history goes too, once no snapshot can need it
      redis.call("PEXPIRE", KEYS[2], expire_ms + tonumber(ARGV[6]))
      redis.call("PEXPIRE", KEYS[3], expire_ms + tonumber(ARGV[6]))
    end
  elseif expire_ms == 0 then
    redis.call("HINCRBY", KEYS[5], "keys", 1)
    redis.call("HINCRBY", KEYS[5], "bytes", #merged)
  end
end
redis.call("HSET", KEYS[1], "v", merged, "s", seq)
if expire_ms > 0 then
  redis.call("PEXPIRE", KEYS[1], expire_ms)
end
publish(channel, key, seq, "v", merged)
return {merged, seq, 1}
