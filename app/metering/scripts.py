"""The Lua scripts the Redis meter runs: each is one atomic step (see app/metering/redis_meter.py for
what every key holds)."""

# KEYS: epoch, bal, pend, rl current, rl previous, stream, then the credit counters: key today, key
#       this month, account this month, and pendk (per key, the credits charged here and not yet flushed)
# ARGV: epoch, user, price, limit, elapsed ms, window ms, count (1: count it against the window),
#       commit (1: charge and log it; 0: check only, a refusal is logged), status, record (CallRecord.pack),
#       key id, daily cap, monthly cap, spend limit (0: none)
# A counter a cap needs is loaded first ('primecap'); the others are kept only where they exist, so
# a cap set later starts from the database's exact figure. The order of the checks is
# ``caps.over_cap``'s, after the balance, as in the database meter.
METER = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {'stale'} end
local bal = redis.call('GET', KEYS[2])
if not bal then return {'prime'} end
bal = tonumber(bal)
local price, limit = tonumber(ARGV[3]), tonumber(ARGV[4])
local dcap, mcap, slim = tonumber(ARGV[12]), tonumber(ARGV[13]), tonumber(ARGV[14])
local kd, km, um = redis.call('GET', KEYS[7]), redis.call('GET', KEYS[8]), redis.call('GET', KEYS[9])
if price > 0 and ((dcap > 0 and not kd) or (mcap > 0 and not km) or (slim > 0 and not um)) then
  return {'primecap'}
end
local elapsed, window = tonumber(ARGV[5]), tonumber(ARGV[6])
local count, commit, status, credits = ARGV[7] == '1', ARGV[8] == '1', tonumber(ARGV[9]), 0
local capped, cap, used = '', 0, 0
local cur = tonumber(redis.call('GET', KEYS[4]) or '0')
local prev = tonumber(redis.call('GET', KEYS[5]) or '0')
if count then
  if prev * (window - elapsed) / window + cur + 1 > limit then
    status = 429
  else
    cur = redis.call('INCR', KEYS[4])
    if cur == 1 then redis.call('PEXPIRE', KEYS[4], 2 * window) end
  end
end
if status < 400 and price > 0 then
  local d, m, a = tonumber(kd or '0'), tonumber(km or '0'), tonumber(um or '0')
  if bal < price then
    status = 402
  elseif dcap > 0 and d + price > dcap then
    status, capped, cap, used = 402, 'day', dcap, d
  elseif mcap > 0 and m + price > mcap then
    status, capped, cap, used = 402, 'month', mcap, m
  elseif slim > 0 and a + price > slim then
    status, capped, cap, used = 429, 'spend', slim, a
  elseif commit then
    bal = redis.call('DECRBY', KEYS[2], price)
    redis.call('HINCRBY', KEYS[3], ARGV[2], price)
    redis.call('HINCRBY', KEYS[10], ARGV[11], price)
    credits = price
    if kd then kd = redis.call('INCRBY', KEYS[7], price) end
    if km then km = redis.call('INCRBY', KEYS[8], price) end
    if um then redis.call('INCRBY', KEYS[9], price) end
  end
end
if commit or status >= 400 then
  redis.call('XADD', KEYS[6], '*', 'v', ARGV[10] .. '\\31' .. status .. '\\31' .. credits)
end
return {'ok', status, credits, bal, cur, prev, capped, cap, used, tonumber(kd or '-1'), tonumber(km or '-1')}
"""

# KEYS: key today, key this month, account this month, gen, pend, pendk.
# ARGV: gen seen before reading the database, the database's three sums, user, key, day ttl, month ttl.
# What Redis charged and the database does not hold yet (pend, pendk) is added to the sums.
PRIMECAP = """
if (redis.call('GET', KEYS[4]) or '0') ~= ARGV[1] then return {'retry'} end
local key_pending = tonumber(redis.call('HGET', KEYS[6], ARGV[6]) or '0')
local user_pending = tonumber(redis.call('HGET', KEYS[5], ARGV[5]) or '0')
redis.call('SET', KEYS[1], tonumber(ARGV[2]) + key_pending, 'EX', ARGV[7], 'NX')
redis.call('SET', KEYS[2], tonumber(ARGV[3]) + key_pending, 'EX', ARGV[8], 'NX')
redis.call('SET', KEYS[3], tonumber(ARGV[4]) + user_pending, 'EX', ARGV[8], 'NX')
return {'ok'}
"""

# KEYS: bal, gen, pend, hold. ARGV: gen seen before reading the database, database balance, user, ttl
PRIME = """
local existing = redis.call('GET', KEYS[1])
if existing then return {'ok', tonumber(existing)} end
if redis.call('EXISTS', KEYS[4]) == 1 then return {'busy'} end
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[1] then return {'retry'} end
local balance = tonumber(ARGV[2]) - tonumber(redis.call('HGET', KEYS[3], ARGV[3]) or '0')
redis.call('SET', KEYS[1], balance, 'EX', ARGV[4])
return {'ok', balance}
"""

# KEYS: bal, gen, hold. ARGV: amount, hold ms, credits added by the same (uncommitted) transaction
TAKE = """
local bal = redis.call('GET', KEYS[1])
if not bal then return {'prime'} end
bal = tonumber(bal)
local amount = tonumber(ARGV[1])
if bal + tonumber(ARGV[3]) < amount then return {'short', bal} end
redis.call('DECRBY', KEYS[1], amount)
redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[3], 1, 'PX', ARGV[2])
return {'ok', bal - amount}
"""

# KEYS: stream, pend, pendk. ARGV: group, gen key prefix, then (entry id, user, key, credits) quadruples
ACK = """
local touched = {}
for i = 3, #ARGV, 4 do
  local id, user, key, credits = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
  redis.call('XACK', KEYS[1], ARGV[1], id)
  if redis.call('XDEL', KEYS[1], id) == 1 and credits > 0 then
    if redis.call('HINCRBY', KEYS[2], user, -credits) <= 0 then redis.call('HDEL', KEYS[2], user) end
    if key ~= '' and redis.call('HINCRBY', KEYS[3], key, -credits) <= 0 then redis.call('HDEL', KEYS[3], key) end
    touched[user] = true
  end
end
for user, _ in pairs(touched) do
  redis.call('INCR', ARGV[2] .. user)
  redis.call('EXPIRE', ARGV[2] .. user, 172800)
end
return 1
"""
