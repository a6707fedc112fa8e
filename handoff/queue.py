"""The human queue: tier-aware priority, the routing chain, offers with a deadline, nothing dropped.

Keys (all under one hash tag ``{hq}`` per deployment, so every Lua script here is Redis-Cluster-safe):

* ``queue:{team}`` sorted set of waiting conversations; score = enqueue time − the tier's boost (ms),
  so a VIP who waited 1 minute sorts before a regular who waited 2 when the VIP boost is over 60 s,
  and each class stays FIFO.
* ``dedicated:{agent}`` / ``sticky:{agent}`` the same tickets indexed by their dedicated agent and by
  the last agent who served the customer, with the same score.
* ``ticket:{conversation}`` hash: team, tier, customer, first message, status (queued, offered,
  assigned), the agent, attempts.
* ``agent:{id}`` hash (name, teams, capacity, status, load), ``alive:{id}`` heartbeat key with a TTL,
  ``convs:{id}`` set of the agent's conversations, ``offers`` sorted set of offer deadlines.

The routing chain for a conversation is dedicated agent → last agent (sticky) → an agent of its team →
anyone, each step only to agents that are online, not paused, alive and under capacity. Claiming is one
Lua script, so two instances dispatching at once can never give a ticket twice or exceed a capacity.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field

from bot.redis_conn import AsyncRedis
from bot.state import ConversationStates, IllegalTransition, Owner

STATUSES = ("online", "paused", "offline")
_TICKET_GONE = 0
_AGENT_UNAVAILABLE = -1
TIERS = ("vip", "regular", "new")
_PAGE = 8

# Keeps the availability indexes (``avail:all`` and ``avail:team:{team}``, score = load / capacity) in
# step with an agent's status and load, inside the same script that changed them. The index keys are
# built from the base (all under the ``{hq}`` hash tag, so they share the slot of the declared keys).
_AVAIL = """
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
_REFRESH = (
    _AVAIL
    + """
refresh_avail(ARGV[1], KEYS[1], ARGV[2])
return 1
"""
)

# KEYS: ticket, queue, dedicated, sticky, agent, alive, convs, offers.
# ARGV: conversation, agent id, status to set ("offered"|"assigned"), offer deadline ms, now ms, base,
# events channel and event to publish on success ("" for none).
_CLAIM = (
    _AVAIL
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
_CREATE = """
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
_TAKE = (
    _AVAIL
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
_TOLD = """
if redis.call('HGET', KEYS[1], 'status') ~= 'queued' then return 0 end
if (redis.call('HGET', KEYS[1], ARGV[1]) or '') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
"""

# The customer stops waiting (to leave a message instead). KEYS: ticket, queue, dedicated, sticky.
# ARGV: conversation. Only a waiting ticket is cancelled; an offered or assigned one stays.
_CANCEL = """
if redis.call('HGET', KEYS[1], 'status') ~= 'queued' then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('DEL', KEYS[1])
return 1
"""

# An agent whose heartbeat stopped goes offline, unless they came back meanwhile.
# KEYS: agent, alive. ARGV: base, agent id.
_LOST = (
    _AVAIL
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
_CLAIM_HEAD = (
    _AVAIL
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
_ACCEPT = """
if redis.call('HGET', KEYS[1], 'status') ~= 'offered' then return 0 end
if redis.call('HGET', KEYS[1], 'agent') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'status', 'assigned')
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""

# Put an offered or assigned ticket back at the front of its queue and free the agent's slot.
# KEYS: ticket, queue, dedicated, sticky, agent, convs, offers.
# ARGV: conversation, agent id (the holder it must have), dedicated? ("1"/""), sticky? ("1"/""), base.
_REQUEUE = (
    _AVAIL
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
_FINISH = (
    _AVAIL
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


@dataclass(frozen=True)
class QueueSettings:
    """Routing policy; every value has a documented default."""

    tier_boost_seconds: Mapping[str, float] = field(
        default_factory=lambda: {"vip": 300.0, "regular": 0.0, "new": 0.0}
    )
    offer_timeout_seconds: float = 30.0
    heartbeat_ttl_seconds: float = 30.0
    # Teams whose conversations are assigned without asking; the others are offered and accepted.
    auto_assign_teams: frozenset[str] = frozenset()
    default_handle_seconds: float = 300.0
    scan_depth: int = 50


@dataclass(frozen=True)
class Ticket:
    """A conversation waiting for, offered to, or handled by a human."""

    conversation_id: str
    team: str
    tier: str
    customer_id: str
    first_message: str
    channel: str
    enqueued_ms: int
    score: float
    status: str = "queued"
    agent: str = ""
    dedicated_agent: str = ""
    last_agent: str = ""
    attempts: int = 0
    # The agent who transferred it away: never routed back to them, and no "anyone" fallback (the
    # transfer named a team on purpose).
    transferred_from: str = ""

    def fields(self) -> list[str]:
        """Return the ticket's hash as flat field/value pairs, the form the Lua scripts take."""
        values = {
            "team": self.team,
            "tier": self.tier,
            "customer_id": self.customer_id,
            "first_message": self.first_message,
            "channel": self.channel,
            "enqueued_ms": str(self.enqueued_ms),
            "score": f"{self.score:.17g}",
            "status": self.status,
            "agent": self.agent,
            "dedicated_agent": self.dedicated_agent,
            "last_agent": self.last_agent,
            "attempts": str(self.attempts),
            "transferred_from": self.transferred_from,
        }
        return [x for item in values.items() for x in item]


@dataclass(frozen=True)
class Agent:
    """A human agent's routing record."""

    id: str
    name: str
    teams: tuple[str, ...]
    capacity: int
    status: str
    load: int
    alive: bool

    @property
    def available(self) -> bool:
        """Return True when routing may give this agent another conversation."""
        return self.alive and self.status == "online" and self.load < self.capacity


@dataclass(frozen=True)
class _Picked:
    """The ticket ``_pick`` chose for an agent (read already, except for the dedicated step)."""

    conversation_id: str
    step: str
    team: str
    ticket: Ticket | None


class _Availability:
    """Whether given agents can take work, asked one at a time and remembered for one dispatch.

    Routing needs this only for the few tickets that name a dedicated or last agent, so asking per
    agent beats reading every available agent (200 of them) for each ticket placed.
    """

    def __init__(self, redis: AsyncRedis, key: str) -> None:
        """Ask the availability index at ``key``."""
        self._redis = redis
        self._key = key
        self._known: dict[str, bool] = {}

    async def has(self, agent_id: str) -> bool:
        """Return True when ``agent_id`` is online, alive and under capacity."""
        if not agent_id:
            return False
        if agent_id not in self._known:
            self._known[agent_id] = await self._redis.zscore(self._key, agent_id) is not None
        return self._known[agent_id]


@dataclass(frozen=True)
class Placement:
    """Where a ticket went: which agent, by which step of the chain, offered or assigned."""

    conversation_id: str
    agent_id: str
    step: str
    status: str


@dataclass(frozen=True)
class Told:
    """What a waiting customer was told: their place ("place:wait:ms"), and whether of a long wait."""

    place: str
    enqueued_ms: int
    long_wait: str


@dataclass(frozen=True)
class Position:
    """A waiting customer's place in line and the expected wait."""

    position: int
    expected_wait_seconds: float


class HandoffQueue:
    """The Redis queue and routing for one deployment prefix."""

    def __init__(
        self,
        client: AsyncRedis,
        prefix: str,
        states: ConversationStates,
        settings: QueueSettings | None = None,
    ) -> None:
        """Use ``client`` for keys under ``prefix``; ``states`` moves conversations QUEUED → AGENT."""
        self.redis = client
        self.states = states
        self.settings = settings or QueueSettings()
        self._base = f"{prefix}:{{hq}}"
        self._claim = client.register_script(_CLAIM)
        self._accept = client.register_script(_ACCEPT)
        self._take = client.register_script(_TAKE)
        self._create = client.register_script(_CREATE)
        self._told = client.register_script(_TOLD)
        self._cancel = client.register_script(_CANCEL)
        self._lost = client.register_script(_LOST)
        self._claim_head = client.register_script(_CLAIM_HEAD)
        self._requeue = client.register_script(_REQUEUE)
        self._finish = client.register_script(_FINISH)
        self._refresh = client.register_script(_REFRESH)

    # Key names --------------------------------------------------------------------------------
    def _k(self, *parts: str) -> str:
        return ":".join((self._base, *parts))

    # Agents -----------------------------------------------------------------------------------
    async def upsert_agent(self, agent_id: str, name: str, teams: Sequence[str], capacity: int) -> None:
        """Create or update an agent's routing record (status and load are kept)."""
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        old_teams = await self.redis.hget(self._k("agent", agent_id), "teams") or ""
        for team in old_teams.split(","):
            if team:
                await self.redis.zrem(self._k("avail", "team", team), agent_id)
                await self.redis.zrem(self._k("online", "team", team), agent_id)
        await self.redis.hset(
            self._k("agent", agent_id), mapping={"name": name, "teams": ",".join(teams), "capacity": capacity}
        )
        await self.redis.hsetnx(self._k("agent", agent_id), "status", "offline")
        await self.redis.hsetnx(self._k("agent", agent_id), "load", 0)
        await self.redis.sadd(self._k("agents"), agent_id)
        await self._refresh_agent(agent_id)

    async def _refresh_agent(self, agent_id: str) -> None:
        await self._refresh(keys=[self._k("agent", agent_id)], args=[self._base, agent_id])

    async def set_status(self, agent_id: str, status: str) -> list[Placement]:
        """Set online / paused / offline; going offline hands the agent's conversations back."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}")
        if status == "online":
            # Alive before online: a sweep (any instance, every second) that saw "online" without a
            # heartbeat in between would log the agent off again as a lost connection.
            ttl_ms = int(self.settings.heartbeat_ttl_seconds * 1000)
            await self.redis.set(self._k("alive", agent_id), "1", px=ttl_ms)
        await self.redis.hset(self._k("agent", agent_id), "status", status)
        if status == "online":
            await self.heartbeat(agent_id)
            return await self.dispatch_agent(agent_id)
        if status == "offline":
            await self.redis.delete(self._k("alive", agent_id))
            await self._refresh_agent(agent_id)
            await self._release_all(agent_id, "agent went offline")
            return await self.dispatch()
        await self._refresh_agent(agent_id)
        return []

    async def heartbeat(self, agent_id: str) -> None:
        """Mark the agent's console as connected for the next heartbeat TTL."""
        ttl_ms = int(self.settings.heartbeat_ttl_seconds * 1000)
        await self.redis.set(self._k("alive", agent_id), "1", px=ttl_ms)
        await self._refresh_agent(agent_id)

    async def agent(self, agent_id: str) -> Agent | None:
        """Return one agent's record, or None."""
        data = await self.redis.hgetall(self._k("agent", agent_id))
        if not data:
            return None
        return self._agent_from(agent_id, data, bool(await self.redis.exists(self._k("alive", agent_id))))

    @staticmethod
    def _agent_from(agent_id: str, data: Mapping[str, str], alive: bool) -> Agent:
        return Agent(
            id=agent_id,
            name=data.get("name", agent_id),
            teams=tuple(t for t in data.get("teams", "").split(",") if t),
            capacity=int(data.get("capacity", 1)),
            status=data.get("status", "offline"),
            load=int(data.get("load", 0)),
            alive=alive,
        )

    async def agents(self) -> list[Agent]:
        """Return every agent's record (two round trips, however many agents)."""
        ids = sorted(await self.redis.smembers(self._k("agents")))
        if not ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for agent_id in ids:
                pipe.hgetall(self._k("agent", agent_id))
                pipe.exists(self._k("alive", agent_id))
            results = await pipe.execute()
        agents = []
        for i, agent_id in enumerate(ids):
            data, alive = results[2 * i], results[2 * i + 1]
            if data:
                agents.append(self._agent_from(agent_id, data, bool(alive)))
        return agents

    async def conversations_of(self, agent_id: str) -> set[str]:
        """Return the conversations offered to or handled by the agent."""
        return set(await self.redis.smembers(self._k("convs", agent_id)))

    # Tickets ----------------------------------------------------------------------------------
    async def ticket(self, conversation_id: str) -> Ticket | None:
        """Return a conversation's ticket, or None when it is not in the human queue."""
        data = await self.redis.hgetall(self._k("ticket", conversation_id))
        if not data:
            return None
        return Ticket(
            conversation_id=conversation_id,
            team=data["team"],
            tier=data["tier"],
            customer_id=data.get("customer_id", ""),
            first_message=data.get("first_message", ""),
            channel=data.get("channel", ""),
            enqueued_ms=int(data["enqueued_ms"]),
            score=float(data["score"]),
            status=data["status"],
            agent=data.get("agent", ""),
            dedicated_agent=data.get("dedicated_agent", ""),
            last_agent=data.get("last_agent", ""),
            attempts=int(data.get("attempts", 0)),
            transferred_from=data.get("transferred_from", ""),
        )

    async def enqueue(
        self,
        conversation_id: str,
        *,
        team: str,
        tier: str = "regular",
        customer_id: str = "",
        first_message: str = "",
        channel: str = "",
        dedicated_agent: str = "",
        last_agent: str = "",
        now_ms: int | None = None,
        transferred_from: str = "",
    ) -> Position:
        """Put a conversation in its team's queue (a repeat changes nothing) and try to place it.

        ``transferred_from`` names the agent who is transferring it away: routing never gives it back to
        them and keeps it in the named team.
        """
        if tier not in TIERS:
            raise ValueError(f"tier must be one of {', '.join(TIERS)}")
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        score = now - int(self.settings.tier_boost_seconds.get(tier, 0.0) * 1000)
        ticket = Ticket(
            conversation_id=conversation_id,
            team=team,
            tier=tier,
            customer_id=customer_id,
            first_message=first_message[:500],
            channel=channel,
            enqueued_ms=now,
            score=float(score),
            dedicated_agent=dedicated_agent,
            last_agent=last_agent if last_agent != dedicated_agent else "",
            transferred_from=transferred_from,
        )
        # One script: created only if absent, so a retried request keeps the first place.
        created = await self._create(
            keys=[
                self._k("ticket", conversation_id),
                self._k("queue", team),
                self._k("teams"),
                self._k("dedicated", dedicated_agent or "-"),
                self._k("sticky", ticket.last_agent or "-"),
            ],
            args=[
                conversation_id,
                score,
                team,
                "1" if dedicated_agent else "",
                "1" if ticket.last_agent else "",
                *ticket.fields(),
            ],
        )
        if int(created) == 1:
            placed = await self._route(ticket)
            if placed is not None:
                return Position(0, 0.0)  # offered or assigned at once: no place in line to tell
            return await self.position(conversation_id, team)
        return await self.position(conversation_id)

    async def take(
        self,
        conversation_id: str,
        agent_id: str,
        *,
        team: str,
        tier: str = "regular",
        customer_id: str = "",
        channel: str = "",
        first_message: str = "",
    ) -> int:
        """Give a conversation to an agent directly, within capacity and only while they are online.

        Returns 1 when taken, 0 when the conversation already has a ticket (queued or held), -1 when the
        agent is offline or paused and -2 when they are full.
        """
        if tier not in TIERS:
            raise ValueError(f"tier must be one of {', '.join(TIERS)}")
        now = int(time.time() * 1000)
        ticket = Ticket(
            conversation_id=conversation_id,
            team=team,
            tier=tier,
            customer_id=customer_id,
            first_message=first_message[:500],
            channel=channel,
            enqueued_ms=now,
            score=float(now),
            status="assigned",
            agent=agent_id,
        )
        pairs = [*ticket.fields(), "offered_at", str(now)]
        taken = await self._take(
            keys=[
                self._k("ticket", conversation_id),
                self._k("agent", agent_id),
                self._k("alive", agent_id),
                self._k("convs", agent_id),
                self._k("teams"),
            ],
            args=[conversation_id, agent_id, self._base, team, *pairs],
        )
        if int(taken) == 1:
            await self._notify(
                agent_id, {"type": "assigned", "conversation": conversation_id, "step": "takeover"}
            )
        return int(taken)

    async def position(self, conversation_id: str, team: str | None = None) -> Position:
        """Return the 1-based place in the team's queue and an expected wait (0 once placed).

        ``team``, when the caller knows it, saves reading the ticket first (one round trip, not two).
        """
        if team is None:
            ticket = await self.ticket(conversation_id)
            if ticket is None or ticket.status != "queued":
                return Position(0, 0.0)
            team = ticket.team
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hget(self._k("ticket", conversation_id), "status")
            pipe.zrank(self._k("queue", team), conversation_id)
            pipe.lrange(self._k("handled"), 0, 49)
            pipe.zrange(self._k("online", "team", team), 0, -1, withscores=True)
            status, rank, handled, online = await pipe.execute()
        if status != "queued" or rank is None:
            return Position(0, 0.0)
        average, slots = self._pace_of(handled, online)
        place = int(rank) + 1
        # Everyone ahead must finish first, spread over the team's concurrent slots.
        return Position(place, round(place * average / slots, 1))

    def _pace_of(self, handled: Sequence[str], online: Sequence[tuple[str, float]]) -> tuple[float, int]:
        """Return the recent average handling time and the team's online slots (at least 1)."""
        times = [float(x) for x in handled]
        average = sum(times) / len(times) if times else self.settings.default_handle_seconds
        return average, int(sum(capacity for _, capacity in online)) or 1

    async def _pace(self, team: str) -> tuple[float, int]:
        """Read the recent handling times and the team's online slots."""
        handled = await self.redis.lrange(self._k("handled"), 0, 49)
        online = await self.redis.zrange(self._k("online", "team", team), 0, -1, withscores=True)
        return self._pace_of(handled, online)

    async def positions(self, team: str, limit: int = 500) -> list[tuple[str, Position]]:
        """Return the first ``limit`` waiting conversations of a team with their place and expected wait."""
        members = await self.redis.zrange(self._k("queue", team), 0, limit - 1)
        average, slots = await self._pace(team)
        return [(m, Position(i, round(i * average / slots, 1))) for i, m in enumerate(members, start=1)]

    async def told(self, conversation_ids: Sequence[str]) -> list[Told]:
        """Return what each waiting customer was told of their place and of leaving a message."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for conversation_id in conversation_ids:
                pipe.hmget(self._k("ticket", conversation_id), ["told", "enqueued_ms", "told_wait"])
            rows = await pipe.execute()
        return [Told(str(a or ""), int(b or 0), str(c or "")) for a, b, c in rows]

    async def set_told(self, conversation_id: str, before: str, after: str, field: str = "told") -> bool:
        """Record a new told value only if it is still ``before`` (one instance tells, not all)."""
        done = await self._told(keys=[self._k("ticket", conversation_id)], args=[field, before, after])
        return int(done) == 1

    # Routing ----------------------------------------------------------------------------------
    async def _head(self, key: str, skip: set[str]) -> AsyncIterator[tuple[str, float]]:
        """Yield the first ``scan_depth`` members of a queue, best first, a page at a time.

        Usually the first member is the one taken: reading (and parsing) 50 to use 1 was most of the
        cost of a full enqueue → close cycle.
        """
        for start in range(0, self.settings.scan_depth, _PAGE):
            rows = await self.redis.zrange(key, start, start + _PAGE - 1, withscores=True)
            for member, score in rows:
                if member not in skip:
                    yield member, float(score)
            if len(rows) < _PAGE:
                return

    def _availability(self) -> _Availability:
        return _Availability(self.redis, self._k("avail", "all"))

    async def _route(self, ticket: Ticket) -> Placement | None:
        """Place one new ticket by the chain: dedicated → sticky → team (least loaded) → anyone."""
        tried: set[str] = {ticket.transferred_from} if ticket.transferred_from else set()
        available = self._availability()
        for step, agent_id in (("dedicated", ticket.dedicated_agent), ("sticky", ticket.last_agent)):
            if agent_id and agent_id not in tried and await available.has(agent_id):
                tried.add(agent_id)
                placement = await self._place(ticket.conversation_id, agent_id, step, ticket)
                if isinstance(placement, Placement):
                    return placement
                if placement == _TICKET_GONE:
                    return None
        steps = [("team", self._k("avail", "team", ticket.team))]
        if not ticket.transferred_from:
            steps.append(("anyone", self._k("avail", "all")))
        for step, key in steps:
            # Concurrent routes race for the least-loaded agents: on a lost race, read the index again
            # rather than leave the ticket waiting while someone is free.
            while True:
                candidates = [a for a in await self.redis.zrange(key, 0, 9) if a not in tried]
                if not candidates:
                    break
                for agent_id in candidates:
                    tried.add(agent_id)
                    placement = await self._place(ticket.conversation_id, agent_id, step, ticket)
                    if isinstance(placement, Placement):
                        return placement
                    if placement == _TICKET_GONE:
                        return None
        return None

    async def _pick(self, agent: Agent, available: _Availability, skip: set[str]) -> _Picked | None:
        """Return the best waiting ticket for ``agent`` with its chain step and queue's team, or None.

        The team is "" for the dedicated and sticky steps (those tickets are not taken from a team queue).
        """
        async for member, _ in self._head(self._k("dedicated", agent.id), skip):
            return _Picked(member, "dedicated", "", None)
        best: tuple[float, _Picked] | None = None
        async for member, score in self._head(self._k("sticky", agent.id), skip):
            ticket = await self.ticket(member)
            if ticket and not await available.has(ticket.dedicated_agent):
                best = (score, _Picked(member, "sticky", "", ticket))
                break
        teams = set(agent.teams)
        for team in sorted(await self.teams()):
            if team in teams:
                step = "team"
            elif not await self.redis.zcard(self._k("avail", "team", team)):
                step = "anyone"  # nobody of that team can take it, so anyone may
            else:
                continue
            async for member, score in self._head(self._k("queue", team), skip):
                if best is not None and score >= best[0]:
                    break
                ticket = await self.ticket(member)
                if ticket is None:
                    continue
                if ticket.dedicated_agent != agent.id and await available.has(ticket.dedicated_agent):
                    continue
                if ticket.last_agent != agent.id and await available.has(ticket.last_agent):
                    continue
                if ticket.transferred_from and (step == "anyone" or ticket.transferred_from == agent.id):
                    continue
                best = (score, _Picked(member, step, team, ticket))
                break
        return best[1] if best else None

    async def dispatch_agent(self, agent_id: str, skip: set[str] | None = None) -> list[Placement]:
        """Fill one agent's free slots from the queues (called when the agent frees up or comes online)."""
        placements: list[Placement] = []
        skip = skip if skip is not None else set()
        # Who else is available is asked once per dispatch: a slightly stale answer only decides whether
        # a ticket waits for its own dedicated or last agent; the claim itself is atomic.
        available = self._availability()
        while True:
            agent = await self.agent(agent_id)
            if agent is None or not agent.available:
                return placements
            picked = await self._pick(agent, available, skip)
            if picked is None:
                return placements
            placement = await self._place_picked(picked, agent_id)
            if isinstance(placement, Placement):
                placements.append(placement)
            elif placement == _TICKET_GONE:
                skip.add(picked.conversation_id)  # taken by another instance meanwhile, or closed
            else:
                return placements  # the agent filled up or went away meanwhile

    async def dispatch(self, exclude: frozenset[str] = frozenset()) -> list[Placement]:
        """Place waiting conversations with every available agent (but ``exclude``), round-robin."""
        placements: list[Placement] = []
        skip: set[str] = set()
        while True:
            progressed = False
            # Least-loaded first (the index's score is load / capacity), so work spreads across the team.
            available = self._availability()
            for agent_id in await self.redis.zrange(self._k("avail", "all"), 0, -1):
                if agent_id in exclude:
                    continue
                agent = await self.agent(agent_id)
                if agent is None or not agent.available:
                    continue
                picked = await self._pick(agent, available, skip)
                if picked is None:
                    continue
                placement = await self._place_picked(picked, agent_id)
                if isinstance(placement, Placement):
                    placements.append(placement)
                    progressed = True
                elif placement == _TICKET_GONE:
                    skip.add(picked.conversation_id)
                    progressed = True
            if not progressed:
                return placements

    async def _place_picked(self, picked: _Picked, agent_id: str) -> Placement | int:
        """Claim what ``_pick`` chose; if another agent got there first, the next one in that queue."""
        placement = await self._place(picked.conversation_id, agent_id, picked.step, picked.ticket)
        if placement == _TICKET_GONE and picked.team:
            placement = await self._place_head(picked.team, agent_id, picked.step)
        return placement

    async def _place(
        self, conversation_id: str, agent_id: str, step: str, known: Ticket | None = None
    ) -> Placement | int:
        # A ticket the caller just read or made saves a read; the claim checks its status atomically.
        ticket = known or await self.ticket(conversation_id)
        if ticket is None:
            return _TICKET_GONE
        auto = ticket.team in self.settings.auto_assign_teams
        status = "assigned" if auto else "offered"
        deadline = int((time.time() + self.settings.offer_timeout_seconds) * 1000)
        event = {"type": status, "conversation": conversation_id, "step": step}
        claimed = await self._claim(
            keys=[
                *self._ticket_keys(ticket),
                self._k("agent", agent_id),
                self._k("alive", agent_id),
                self._k("convs", agent_id),
                self._k("offers"),
            ],
            args=[
                conversation_id,
                agent_id,
                status,
                deadline,
                int(time.time() * 1000),
                self._base,
                "" if auto else self.events_channel(agent_id),
                json.dumps(event),
            ],
        )
        if int(claimed) != 1:
            return _TICKET_GONE if int(claimed) == 0 else _AGENT_UNAVAILABLE
        if auto:
            # Announced once the conversation is the agent's, so the console finds it theirs.
            await self._to_agent(conversation_id, agent_id, step)
            await self._notify(agent_id, event)
        return Placement(conversation_id, agent_id, step, status)

    async def _place_head(self, team: str, agent_id: str, step: str) -> Placement | int:
        """After losing the race for a queue's head: claim the next ticket the agent may take, atomically."""
        auto = team in self.settings.auto_assign_teams
        status = "assigned" if auto else "offered"
        before, _, after = json.dumps({"type": status, "conversation": "@", "step": step}).partition('"@"')
        claimed = await self._claim_head(
            keys=[
                self._k("queue", team),
                self._k("agent", agent_id),
                self._k("alive", agent_id),
                self._k("convs", agent_id),
                self._k("offers"),
            ],
            args=[
                self._base,
                agent_id,
                status,
                int((time.time() + self.settings.offer_timeout_seconds) * 1000),
                int(time.time() * 1000),
                self.settings.scan_depth,
                step,
                "" if auto else self.events_channel(agent_id),
                before,
                after,
            ],
        )
        if not claimed:
            return _TICKET_GONE
        conversation_id = str(claimed)
        if auto:
            await self._to_agent(conversation_id, agent_id, step)
            await self._notify(agent_id, {"type": status, "conversation": conversation_id, "step": step})
        return Placement(conversation_id, agent_id, step, status)

    def _ticket_keys(self, ticket: Ticket) -> list[str]:
        return [
            self._k("ticket", ticket.conversation_id),
            self._k("queue", ticket.team),
            self._k("dedicated", ticket.dedicated_agent or "-"),
            self._k("sticky", ticket.last_agent or "-"),
        ]

    async def _to_agent(self, conversation_id: str, agent_id: str, step: str) -> None:
        try:
            await self.states.transition(
                conversation_id,
                Owner.AGENT,
                actor=f"agent:{agent_id}",
                reason=f"routed ({step})",
                expected=Owner.QUEUED,
            )
        except IllegalTransition:
            # The customer went back to the bot (or the conversation closed) meanwhile: free the slot.
            await self.finish(conversation_id, agent_id, handled_seconds=0.0)

    async def accept(self, agent_id: str, conversation_id: str) -> bool:
        """Accept an offer; the conversation becomes the agent's (False if the offer lapsed)."""
        accepted = await self._accept(
            keys=[self._k("ticket", conversation_id), self._k("offers")], args=[conversation_id, agent_id]
        )
        if int(accepted) != 1:
            return False
        await self._to_agent(conversation_id, agent_id, "accepted")
        return True

    async def cancel(self, conversation_id: str) -> bool:
        """Take a waiting conversation out of the queue (False once it is offered or assigned)."""
        ticket = await self.ticket(conversation_id)
        if ticket is None:
            return False
        return int(await self._cancel(keys=self._ticket_keys(ticket), args=[conversation_id])) == 1

    async def requeue(self, conversation_id: str, agent_id: str, reason: str) -> bool:
        """Give a conversation back to the front of its queue (declined, timed out, agent lost)."""
        ticket = await self.ticket(conversation_id)
        if ticket is None:
            return False
        done = await self._requeue(
            keys=[
                *self._ticket_keys(ticket),
                self._k("agent", agent_id),
                self._k("convs", agent_id),
                self._k("offers"),
            ],
            args=[
                conversation_id,
                agent_id,
                "1" if ticket.dedicated_agent else "",
                "1" if ticket.last_agent else "",
                self._base,
            ],
        )
        if int(done) != 1:
            return False
        if ticket.status == "assigned":
            # Already back with the bot or closed: the ticket is still safe in the queue.
            with contextlib.suppress(IllegalTransition):
                await self.states.transition(
                    conversation_id,
                    Owner.QUEUED,
                    actor=f"agent:{agent_id}",
                    reason=reason,
                    expected=Owner.AGENT,
                )
        await self._notify(agent_id, {"type": "revoked", "conversation": conversation_id, "reason": reason})
        # Offer it to someone else now; not straight back to the agent who just gave it up.
        await self.dispatch(exclude=frozenset({agent_id}))
        return True

    async def finish(self, conversation_id: str, agent_id: str, handled_seconds: float) -> bool:
        """Close an agent's conversation in the queue: free the slot and record the handling time."""
        done = await self._finish(
            keys=[
                self._k("ticket", conversation_id),
                self._k("agent", agent_id),
                self._k("convs", agent_id),
                self._k("offers"),
                self._k("handled"),
            ],
            args=[conversation_id, agent_id, round(handled_seconds, 1), self._base],
        )
        if int(done) == 1:
            await self.dispatch_agent(agent_id)
            return True
        return False

    async def _release_all(self, agent_id: str, reason: str) -> int:
        released = 0
        for conversation_id in await self.conversations_of(agent_id):
            released += await self.requeue(conversation_id, agent_id, reason)
        return released

    async def sweep(self, now_ms: int | None = None) -> int:
        """Requeue offers past their deadline and the work of agents whose heartbeat stopped."""
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        requeued = 0
        for conversation_id in await self.redis.zrangebyscore(self._k("offers"), "-inf", now):
            ticket = await self.ticket(conversation_id)
            if ticket is None:
                await self.redis.zrem(self._k("offers"), conversation_id)
                continue
            requeued += await self.requeue(conversation_id, ticket.agent, "offer not accepted in time")
        for agent in await self.agents():
            if agent.status != "offline" and not agent.alive:
                # Checked again inside Redis: the agent may have come back since ``agents()`` read them.
                lost = await self._lost(
                    keys=[self._k("agent", agent.id), self._k("alive", agent.id)], args=[self._base, agent.id]
                )
                if int(lost) == 1:
                    requeued += await self._release_all(agent.id, "agent connection lost")
        # Also a safety net: anything still waiting while someone is free gets placed.
        if requeued or await self.redis.zcard(self._k("avail", "all")):
            await self.dispatch()
        return requeued

    async def teams(self) -> set[str]:
        """Return every team that has had a conversation queued."""
        return set(await self.redis.smembers(self._k("teams")))

    async def waiting(self, team: str, limit: int = 100) -> list[Ticket]:
        """Return a team's waiting conversations in priority order."""
        members = await self.redis.zrange(self._k("queue", team), 0, limit - 1)
        found = [await self.ticket(m) for m in members]
        return [t for t in found if t is not None]

    def events_channel(self, agent_id: str) -> str:
        """Pub/sub channel of the agent's routing events (offered, assigned, revoked)."""
        return self._k("events", agent_id)

    async def _notify(self, agent_id: str, event: Mapping[str, str]) -> None:
        # Consoles subscribe to their agent's channel on whichever instance they are connected to.
        await self.redis.publish(self.events_channel(agent_id), json.dumps(dict(event)))
