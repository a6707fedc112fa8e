"""The queue's Lua scripts: each claim, offer, accept, requeue and finish is one atomic script.

Every key a script touches is built from the deployment's ``{hq}`` base: on Redis Cluster, one slot.
"""

from __future__ import annotations

# What the claim scripts return besides a placement: the ticket is gone, or the agent cannot take it.
TICKET_GONE = 0
AGENT_UNAVAILABLE = -1

# Keeps the availability indexes (``avail:all`` and ``avail:team:{team}``, score = load / capacity) in
# step with an agent's status and load, inside the same script that changed them. The index keys are
# built from the base (all under the ``{hq}`` hash tag, so they share the slot of the declared keys).
AVAIL = """
local function refresh_avail(base, agent_key, agent_id)
  local a = redis.call('HMGET', agent_key, 'status', 'load', 'capacity', 'teams')
  local load = tonumber(a[2] or '0')
  local cap = tonumber(a[3] or '0')
  local alive = redis.call('EXISTS', base .. ':alive:' .. agent_id) == 1
  local ok = alive and a[1] == 'online' and cap > 0 and load < cap
  local score = 1
  if cap > 0 then score = load / cap end
  local keys = {base .. ':avail:all'}
  local online = alive and a[1] == 'online'
  for team in string.gmatch(a[4] or '', '[^,]+') do
    table.insert(keys, base .. ':avail:team:' .. team)
    -- Online agents of the team with their capacity, for the expected-wait estimate.
    if online then
      redis.call('ZADD', base .. ':online:team:' .. team, cap, agent_id)
    else
      redis.call('ZREM', base .. ':online:team:' .. team, agent_id)
    end
  end
  for _, key in ipairs(keys) do
    if ok then redis.call('ZADD', key, score, agent_id) else redis.call('ZREM', key, agent_id) end
  end
end
"""

# KEYS: agent. ARGV: base, agent id.
REFRESH = (
    AVAIL
    + """
refresh_avail(ARGV[1], KEYS[1], ARGV[2])
return 1
"""
)

# KEYS: ticket, queue, dedicated, sticky, agent, alive, convs, offers.
# ARGV: conversation, agent id, status to set ("offered"|"assigned"), offer deadline ms, now ms, base,
# events channel and event to publish on success ("" for none).
CLAIM = (
    AVAIL
    + """
if redis.call('HGET', KEYS[1], 'status') ~= 'queued' then return 0 end
if redis.call('EXISTS', KEYS[6]) == 0 or redis.call('HGET', KEYS[5], 'status') ~= 'online' then
  refresh_avail(ARGV[6], KEYS[5], ARGV[2])
  return -1
end
local load = tonumber(redis.call('HGET', KEYS[5], 'load') or '0')
local capacity = tonumber(redis.call('HGET', KEYS[5], 'capacity') or '0')
if load >= capacity then
  refresh_avail(ARGV[6], KEYS[5], ARGV[2])
  return -2
end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('HINCRBY', KEYS[5], 'load', 1)
redis.call('SADD', KEYS[7], ARGV[1])
redis.call('HSET', KEYS[1], 'status', ARGV[3], 'agent', ARGV[2], 'offered_at', ARGV[5])
if ARGV[3] == 'offered' then redis.call('ZADD', KEYS[8], ARGV[4], ARGV[1]) end
refresh_avail(ARGV[6], KEYS[5], ARGV[2])
-- An offer is announced in the same step (one round trip less on the hot path).
if ARGV[7] ~= '' then redis.call('PUBLISH', ARGV[7], ARGV[8]) end
return 1
"""
)

# A new ticket, only if the conversation has none. KEYS: ticket, queue, teams, dedicated, sticky.
# ARGV: conversation, score, team, dedicated? ("1"/""), sticky? ("1"/""), then field/value pairs.
CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 6))
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[3])
if ARGV[4] == '1' then redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1]) end
if ARGV[5] == '1' then redis.call('ZADD', KEYS[5], ARGV[2], ARGV[1]) end
return 1
"""

# A take-over: the ticket is created already assigned to the agent and never enters a queue.
# KEYS: ticket, agent, alive, convs, teams. ARGV: conversation, agent id, base, team, then field/value pairs.
TAKE = (
    AVAIL
    + """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('EXISTS', KEYS[3]) == 0 or redis.call('HGET', KEYS[2], 'status') ~= 'online' then
  return -1
end
local load = tonumber(redis.call('HGET', KEYS[2], 'load') or '0')
if load >= tonumber(redis.call('HGET', KEYS[2], 'capacity') or '0') then return -2 end
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
redis.call('HINCRBY', KEYS[2], 'load', 1)
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('SADD', KEYS[5], ARGV[4])
refresh_avail(ARGV[3], KEYS[2], ARGV[2])
return 1
"""
)

# Compare-and-set of what a waiting customer was told. KEYS: ticket. ARGV: field, before, after.
TOLD = """
if redis.call('HGET', KEYS[1], 'status') ~= 'queued' then return 0 end
if (redis.call('HGET', KEYS[1], ARGV[1]) or '') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
"""

# The customer stops waiting (to leave a message instead). KEYS: ticket, queue, dedicated, sticky.
# ARGV: conversation. Only a waiting ticket is cancelled; an offered or assigned one stays.
CANCEL = """
if redis.call('HGET', KEYS[1], 'status') ~= 'queued' then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('DEL', KEYS[1])
return 1
"""

# An agent whose heartbeat stopped goes offline, unless they came back meanwhile.
# KEYS: agent, alive. ARGV: base, agent id.
LOST = (
    AVAIL
    + """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local status = redis.call('HGET', KEYS[1], 'status')
if not status or status == 'offline' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'offline')
refresh_avail(ARGV[1], KEYS[1], ARGV[2])
return 1
"""
)

# Claim the first waiting ticket of a queue this agent may take, in one step: used after losing a race
# for the head, so concurrent agents never fail on a ticket another took a moment earlier.
# KEYS: queue, agent, alive, convs, offers. ARGV: base, agent id, status to set, offer deadline ms,
# now ms, depth, step ("team"|"anyone"), events channel ("" for none), the event's JSON before and after
# the conversation id.
CLAIM_HEAD = (
    AVAIL
    + """
if redis.call('EXISTS', KEYS[3]) == 0 or redis.call('HGET', KEYS[2], 'status') ~= 'online' then return '' end
local load = tonumber(redis.call('HGET', KEYS[2], 'load') or '0')
if load >= tonumber(redis.call('HGET', KEYS[2], 'capacity') or '0') then return '' end
local base, agent = ARGV[1], ARGV[2]
local function busy_elsewhere(other)
  return other and other ~= '' and other ~= agent and redis.call('ZSCORE', base .. ':avail:all', other)
end
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[6]) - 1)) do
  local t = base .. ':ticket:' .. m
  local f = redis.call('HMGET', t, 'status', 'dedicated_agent', 'last_agent', 'transferred_from')
  local moved = f[4] and f[4] ~= '' and (ARGV[7] == 'anyone' or f[4] == agent)
  if f[1] == 'queued' and not busy_elsewhere(f[2]) and not busy_elsewhere(f[3]) and not moved then
    redis.call('ZREM', KEYS[1], m)
    redis.call('ZREM', base .. ':dedicated:' .. ((f[2] ~= '' and f[2]) or '-'), m)
    redis.call('ZREM', base .. ':sticky:' .. ((f[3] ~= '' and f[3]) or '-'), m)
    redis.call('HINCRBY', KEYS[2], 'load', 1)
    redis.call('SADD', KEYS[4], m)
    redis.call('HSET', t, 'status', ARGV[3], 'agent', agent, 'offered_at', ARGV[5])
    if ARGV[3] == 'offered' then redis.call('ZADD', KEYS[5], ARGV[4], m) end
    refresh_avail(base, KEYS[2], agent)
    if ARGV[8] ~= '' then
      redis.call('PUBLISH', ARGV[8], ARGV[9] .. cjson.encode(m) .. ARGV[10])
    end
    return m
  end
end
return ''
"""
)

# KEYS: ticket, offers. ARGV: conversation, agent id.
ACCEPT = """
if redis.call('HGET', KEYS[1], 'status') ~= 'offered' then return 0 end
if redis.call('HGET', KEYS[1], 'agent') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'status', 'assigned')
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""

# Put an offered or assigned ticket back at the front of its queue and free the agent's slot.
# KEYS: ticket, queue, dedicated, sticky, agent, convs, offers.
# ARGV: conversation, agent id (the holder it must have), dedicated? ("1"/""), sticky? ("1"/""), base.
REQUEUE = (
    AVAIL
    + """
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'offered' and status ~= 'assigned' then return 0 end
if redis.call('HGET', KEYS[1], 'agent') ~= ARGV[2] then return 0 end
local score = tonumber(redis.call('HGET', KEYS[1], 'score'))
local head = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if head[2] and tonumber(head[2]) <= score then score = tonumber(head[2]) - 1 end
redis.call('ZADD', KEYS[2], score, ARGV[1])
if ARGV[3] == '1' then redis.call('ZADD', KEYS[3], score, ARGV[1]) end
if ARGV[4] == '1' then redis.call('ZADD', KEYS[4], score, ARGV[1]) end
redis.call('HSET', KEYS[1], 'status', 'queued', 'agent', '', 'score', score, 'previous_agent', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
if tonumber(redis.call('HGET', KEYS[5], 'load') or '0') > 0 then
  redis.call('HINCRBY', KEYS[5], 'load', -1)
end
redis.call('SREM', KEYS[6], ARGV[1])
redis.call('ZREM', KEYS[7], ARGV[1])
refresh_avail(ARGV[5], KEYS[5], ARGV[2])
return 1
"""
)

# KEYS: ticket, agent, convs, offers, handled. ARGV: conversation, agent id, handled seconds, base.
FINISH = (
    AVAIL
    + """
if redis.call('HGET', KEYS[1], 'agent') ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
if tonumber(redis.call('HGET', KEYS[2], 'load') or '0') > 0 then
  redis.call('HINCRBY', KEYS[2], 'load', -1)
end
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('LPUSH', KEYS[5], ARGV[3])
redis.call('LTRIM', KEYS[5], 0, 199)
refresh_avail(ARGV[4], KEYS[2], ARGV[2])
return 1
"""
)
