"""The Lua scripts the Redis meter runs: each is one atomic step (see app/metering/redis_meter.py for
what every key holds)."""

# KEYS: epoch, bal, pend, rl current, rl previous, stream
# ARGV: epoch, user, price, limit, elapsed ms, window ms, count (1: count it against the window),
#       commit (1: charge and log it; 0: check only, a refusal is logged), status, record (CallRecord.pack)
METER = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {'stale'} end
local bal = redis.call('GET', KEYS[2])
if not bal then return {'prime'} end
bal = tonumber(bal)
local price, limit = tonumber(ARGV[3]), tonumber(ARGV[4])
local elapsed, window = tonumber(ARGV[5]), tonumber(ARGV[6])
local count, commit, status, credits = ARGV[7] == '1', ARGV[8] == '1', tonumber(ARGV[9]), 0
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
  if bal < price then
    status = 402
  elseif commit then
    bal = redis.call('DECRBY', KEYS[2], price)
    redis.call('HINCRBY', KEYS[3], ARGV[2], price)
    credits = price
  end
end
if commit or status >= 400 then
  redis.call('XADD', KEYS[6], '*', 'v', ARGV[10] .. '\\31' .. status .. '\\31' .. credits)
end
return {'ok', status, credits, bal, cur, prev}
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

# KEYS: stream, pend. ARGV: group, gen key prefix, then (entry id, user, credits) triples
ACK = """
local touched = {}
for i = 3, #ARGV, 3 do
  local id, user, credits = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  redis.call('XACK', KEYS[1], ARGV[1], id)
  if redis.call('XDEL', KEYS[1], id) == 1 and credits > 0 then
    if redis.call('HINCRBY', KEYS[2], user, -credits) <= 0 then redis.call('HDEL', KEYS[2], user) end
    touched[user] = true
  end
end
for user, _ in pairs(touched) do
  redis.call('INCR', ARGV[2] .. user)
  redis.call('EXPIRE', ARGV[2] .. user, 172800)
end
return 1
"""
