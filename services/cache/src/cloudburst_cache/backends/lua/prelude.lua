-- Cloudburst lattices on Redis: the codec and merges of cloudburst_lattices, in Lua.
--
-- Values are stored in their canonical encoding (cloudburst_lattices.encode), so what a
-- reader gets back is byte for byte what the embedded store would hold. Redis Lua numbers
-- are doubles: 64-bit integers (timestamps, maxima, priorities, clock counters) are never
-- converted, they are compared on their varint bytes. Only lengths and counts become
-- numbers. Input was checked by the Python side (cloudburst_lattices.decode), stored values
-- were written by these scripts: the decoder trusts its input.
--
-- Errors are raised before anything is written, so a failed merge changes nothing:
--   CBKIND <stored tag>                       the key holds another lattice type
--   CBNESTED <tag> <tag> k<map key in hex>    a map key holds two different types
--   CBUNSUPPORTED <tag>                       a type these scripts do not merge

local sbyte, schar, ssub, tconcat, floor = string.byte, string.char, string.sub, table.concat, math.floor

local TAG_LWW, TAG_SET, TAG_OSET, TAG_MAX, TAG_PRIORITY, TAG_CLOCK, TAG_MAP = 1, 2, 3, 4, 5, 6, 7

local function fail(message)
  error({err = message})
end

-- varints -------------------------------------------------------------------------------

local function uvarint(s, pos)
  local result, mul = 0, 1
  while true do
    local b = sbyte(s, pos)
    pos = pos + 1
    if b < 128 then
      return result + b * mul, pos
    end
    result = result + (b - 128) * mul
    mul = mul * 128
  end
end

-- The bytes of one varint, unconverted.
local function rawvarint(s, pos)
  local start = pos
  while sbyte(s, pos) >= 128 do
    pos = pos + 1
  end
  return ssub(s, start, pos), pos + 1
end

local function put_uvarint(n)
  local out = {}
  while n >= 128 do
    out[#out + 1] = schar(n % 128 + 128)
    n = floor(n / 128)
  end
  out[#out + 1] = schar(n)
  return tconcat(out)
end

local function blob(s, pos)
  local n
  n, pos = uvarint(s, pos)
  return ssub(s, pos, pos + n - 1), pos + n
end

local function put_blob(b)
  return put_uvarint(#b) .. b
end

-- orders ---------------------------------------------------------------------------------

-- Bytewise comparison (Python's bytes order): -1, 0 or 1. Not '<', which follows the locale.
local function bytes_cmp(a, b)
  if a == b then
    return 0
  end
  local n = #a
  if #b < n then
    n = #b
  end
  local i = 1
  while i <= n do
    local j = i + 63
    if j > n then
      j = n
    end
    if ssub(a, i, j) ~= ssub(b, i, j) then
      for k = i, j do
        local x, y = sbyte(a, k), sbyte(b, k)
        if x ~= y then
          if x < y then
            return -1
          end
          return 1
        end
      end
    end
    i = j + 1
  end
  if #a < #b then
    return -1
  end
  return 1
end

-- Unsigned LEB128 in shortest form: more bytes is larger; else compare from the most
-- significant group (the last byte) down.
local function cmp_u(a, b)
  if #a ~= #b then
    if #a < #b then
      return -1
    end
    return 1
  end
  for k = #a, 1, -1 do
    local x, y = sbyte(a, k), sbyte(b, k)
    if x ~= y then
      if x < y then
        return -1
      end
      return 1
    end
  end
  return 0
end

-- Zigzag signed varints: the low bit of the first byte is the sign (1: negative); among
-- negatives a larger zigzag value is a smaller number.
local function cmp_s(a, b)
  local na, nb = sbyte(a, 1) % 2, sbyte(b, 1) % 2
  if na ~= nb then
    if na == 1 then
      return -1
    end
    return 1
  end
  if na == 1 then
    return -cmp_u(a, b)
  end
  return cmp_u(a, b)
end

-- decoding -------------------------------------------------------------------------------

local parse

local function parse_list(s, pos)
  local n
  n, pos = uvarint(s, pos)
  local items = {}
  for i = 1, n do
    items[i], pos = blob(s, pos)
  end
  return items, pos
end

parse = function(s, pos)
  local start = pos
  local tag = sbyte(s, pos)
  pos = pos + 1
  local node = {tag = tag}
  if tag == TAG_LWW then
    node.ts, pos = rawvarint(s, pos)
    node.v, pos = blob(s, pos)
  elseif tag == TAG_SET or tag == TAG_OSET then
    node.els, pos = parse_list(s, pos)
  elseif tag == TAG_MAX then
    node.n, pos = rawvarint(s, pos)
  elseif tag == TAG_PRIORITY then
    node.p, pos = rawvarint(s, pos)
    node.v, pos = blob(s, pos)
  elseif tag == TAG_CLOCK then
    local n
    n, pos = uvarint(s, pos)
    node.names, node.counters = {}, {}
    for i = 1, n do
      node.names[i], pos = blob(s, pos)
      node.counters[i], pos = rawvarint(s, pos)
    end
  elseif tag == TAG_MAP then
    local n
    n, pos = uvarint(s, pos)
    node.keys, node.vals = {}, {}
    for i = 1, n do
      node.keys[i], pos = blob(s, pos)
      node.vals[i], pos = parse(s, pos)
    end
  else
    fail("CBUNSUPPORTED " .. tag)
  end
  node.raw = ssub(s, start, pos - 1)
  return node, pos
end

-- encoding -------------------------------------------------------------------------------

local encode

local function encode_list(tag, items)
  local out = {schar(tag), put_uvarint(#items)}
  for i = 1, #items do
    out[#out + 1] = put_blob(items[i])
  end
  return tconcat(out)
end

encode = function(node)
  if node.raw then
    return node.raw
  end
  local tag = node.tag
  if tag == TAG_SET or tag == TAG_OSET then
    return encode_list(tag, node.els)
  elseif tag == TAG_CLOCK then
    local out = {schar(tag), put_uvarint(#node.names)}
    for i = 1, #node.names do
      out[#out + 1] = put_blob(node.names[i])
      out[#out + 1] = node.counters[i]
    end
    return tconcat(out)
  elseif tag == TAG_MAP then
    local out = {schar(tag), put_uvarint(#node.keys)}
    for i = 1, #node.keys do
      out[#out + 1] = put_blob(node.keys[i])
      out[#out + 1] = encode(node.vals[i])
    end
    return tconcat(out)
  end
  fail("CBUNSUPPORTED " .. tag)
end

-- merges: each returns `a` itself when `b` adds nothing, so "unchanged" is an identity test

local merge

local function merge_sets(a, b)
  local x, y, out = a.els, b.els, {}
  local i, j, nx, ny = 1, 1, #x, #y
  while i <= nx and j <= ny do
    local c = bytes_cmp(x[i], y[j])
    if c < 0 then
      out[#out + 1] = x[i]
      i = i + 1
    elseif c > 0 then
      out[#out + 1] = y[j]
      j = j + 1
    else
      out[#out + 1] = x[i]
      i = i + 1
      j = j + 1
    end
  end
  for k = i, nx do
    out[#out + 1] = x[k]
  end
  for k = j, ny do
    out[#out + 1] = y[k]
  end
  if #out == nx then
    return a
  end
  return {tag = a.tag, els = out}
end

-- Merges two key-sorted lists (keys ak/bk, values av/bv) in one pass: a key on one side only
-- keeps its value; a key on both gets combine(key, mine, theirs) -> value, changed. Returns
-- the merged keys and values, and whether anything differs from side a.
local function merge_sorted(ak, av, bk, bv, combine)
  local keys, vals, changed = {}, {}, false
  local i, j = 1, 1
  while i <= #ak or j <= #bk do
    local c
    if i > #ak then
      c = 1
    elseif j > #bk then
      c = -1
    else
      c = bytes_cmp(ak[i], bk[j])
    end
    if c < 0 then
      keys[#keys + 1], vals[#keys + 1] = ak[i], av[i]
      i = i + 1
    elseif c > 0 then
      keys[#keys + 1], vals[#keys + 1] = bk[j], bv[j]
      changed = true
      j = j + 1
    else
      local value, differs = combine(ak[i], av[i], bv[j])
      if differs then
        changed = true
      end
      keys[#keys + 1], vals[#keys + 1] = ak[i], value
      i = i + 1
      j = j + 1
    end
  end
  return keys, vals, changed
end

local function merge_clocks(a, b)
  local names, counters, changed = merge_sorted(
    a.names, a.counters, b.names, b.counters,
    function(_, mine, theirs)
      if cmp_u(theirs, mine) > 0 then
        return theirs, true
      end
      return mine, false
    end
  )
  if not changed then
    return a
  end
  return {tag = TAG_CLOCK, names = names, counters = counters}
end

local function merge_maps(a, b)
  local keys, vals, changed = merge_sorted(
    a.keys, a.vals, b.keys, b.vals,
    function(key, mine, theirs)
      if mine.tag ~= theirs.tag then
        local hex = string.gsub(key, ".", function(c)
          return string.format("%02x", sbyte(c))
        end)
        fail("CBNESTED " .. mine.tag .. " " .. theirs.tag .. " k" .. hex)
      end
      local merged = merge(mine, theirs)
      return merged, merged ~= mine
    end
  )
  if not changed then
    return a
  end
  return {tag = TAG_MAP, keys = keys, vals = vals}
end

merge = function(a, b)
  local tag = a.tag
  if tag == TAG_LWW then
    -- the larger (timestamp, value) wins
    local c = cmp_s(b.ts, a.ts)
    if c > 0 or (c == 0 and bytes_cmp(b.v, a.v) > 0) then
      return b
    end
    return a
  elseif tag == TAG_MAX then
    if cmp_s(b.n, a.n) > 0 then
      return b
    end
    return a
  elseif tag == TAG_PRIORITY then
    -- the lower priority wins; ties go to the larger value
    local c = cmp_s(b.p, a.p)
    if c < 0 or (c == 0 and bytes_cmp(b.v, a.v) > 0) then
      return b
    end
    return a
  elseif tag == TAG_SET or tag == TAG_OSET then
    return merge_sets(a, b)
  elseif tag == TAG_CLOCK then
    return merge_clocks(a, b)
  elseif tag == TAG_MAP then
    return merge_maps(a, b)
  end
  fail("CBUNSUPPORTED " .. tag)
end

-- storage --------------------------------------------------------------------------------
-- KEYS[1] the value hash {v = encoded lattice, s = seq}; single server only: KEYS[2] the
-- version history (a list, oldest first, of "since millis kind" .. payload), KEYS[3] the
-- seq of the newest state dropped from it, KEYS[4] the global seq counter, KEYS[5] the
-- stats hash {keys, bytes}. ARGV[1] is the mode: "single" or "cluster".

local SINGLE = ARGV[1] == "single"

local function now_ms()
  local t = redis.call("TIME")
  return tonumber(t[1]) * 1000 + floor(tonumber(t[2]) / 1000)
end

-- The next sequence number. One server: the global counter, one total order of changes.
-- A cluster: a hybrid clock per key (the server's time in microseconds, but always past
-- the key's previous seq), so each key's versions are ordered and comparable in time.
local function next_seq(previous)
  if SINGLE then
    return redis.call("INCR", KEYS[4])
  end
  local t = redis.call("TIME")
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local after = (tonumber(previous) or 0) + 1
  if after > now then
    return after
  end
  return now
end

-- Keeps a replaced state for snapshot reads, within the history bounds (as store.py does).
local function remember(since, kind, payload, versions, max_age_ms, now)
  redis.call("RPUSH", KEYS[2], string.format("%d %d %s", since, now, kind) .. payload)
  while true do
    local oldest = redis.call("LINDEX", KEYS[2], 0)
    if not oldest then
      break
    end
    local s1 = string.find(oldest, " ", 1, true)
    local s2 = string.find(oldest, " ", s1 + 1, true)
    local at = tonumber(ssub(oldest, s1 + 1, s2 - 1))
    if redis.call("LLEN", KEYS[2]) > versions or now - at > max_age_ms then
      redis.call("LPOP", KEYS[2])
      redis.call("SET", KEYS[3], ssub(oldest, 1, s1 - 1))
    else
      break
    end
  end
end

-- A change, for every authority process: "seq:keylength:key" kind payload, where kind is
-- "v" (payload: the new encoded value) or "d" (deleted).
local function publish(channel, key, seq, kind, payload)
  redis.call("PUBLISH", channel, string.format("%d:%d:", seq, #key) .. key .. kind .. payload)
end
