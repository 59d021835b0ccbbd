-- The version a snapshot at ARGV[2] sees (single server only). Returns {1, value, seq},
-- {0} when the key did not exist at the snapshot (or was deleted), or the error CBEXPIRED
-- when that version is no longer kept.
local as_of = tonumber(ARGV[2])
local current = redis.call("HMGET", KEYS[1], "v", "s")
if current[1] and tonumber(current[2]) <= as_of then
  return {1, current[1], tonumber(current[2])}
end
local history = redis.call("LRANGE", KEYS[2], 0, -1)
for i = #history, 1, -1 do
  local entry = history[i]
  local s1 = string.find(entry, " ", 1, true)
  local s2 = string.find(entry, " ", s1 + 1, true)
  local since = tonumber(ssub(entry, 1, s1 - 1))
  if since <= as_of then
    if ssub(entry, s2 + 1, s2 + 1) == "d" then
      return {0}
    end
    return {1, ssub(entry, s2 + 2), since}
  end
end
local forgotten = redis.call("GET", KEYS[3])
if forgotten and tonumber(forgotten) ~= 0 then
  fail("CBEXPIRED")
end
return {0}
