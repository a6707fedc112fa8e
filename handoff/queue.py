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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bot.redis_conn import AsyncRedis
from bot.state import ConversationStates, IllegalTransition, Owner

STATUSES = ("online", "paused", "offline")
_TICKET_GONE = 0
_AGENT_UNAVAILABLE = -1
TIERS = ("vip", "regular", "new")

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
# ARGV: conversation, agent id, status to set ("offered"|"assigned"), offer deadline ms, now ms, base.
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
return 1
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
    status: str
    agent: str
    dedicated_agent: str
    last_agent: str
    attempts: int
    # The agent who transferred it away: never routed back to them, and no "anyone" fallback (the
    # transfer named a team on purpose).
    transferred_from: str = ""


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
class Placement:
    """Where a ticket went: which agent, by which step of the chain, offered or assigned."""

    conversation_id: str
    agent_id: str
    step: str
    status: str


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
        ticket: dict[str | bytes, str | int | float] = {
            "team": team,
            "tier": tier,
            "customer_id": customer_id,
            "first_message": first_message[:500],
            "channel": channel,
            "enqueued_ms": now,
            "score": score,
            "status": "queued",
            "agent": "",
            "dedicated_agent": dedicated_agent,
            "last_agent": last_agent if last_agent != dedicated_agent else "",
            "attempts": 0,
            "transferred_from": transferred_from,
        }
        # HSETNX on a marker makes the enqueue idempotent: a retried request keeps the first place.
        created = await self.redis.hsetnx(self._k("ticket", conversation_id), "team", team)
        if created:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(self._k("ticket", conversation_id), mapping=ticket)
                pipe.zadd(self._k("queue", team), {conversation_id: score})
                pipe.sadd(self._k("teams"), team)
                if dedicated_agent:
                    pipe.zadd(self._k("dedicated", dedicated_agent), {conversation_id: score})
                if ticket["last_agent"]:
                    pipe.zadd(self._k("sticky", last_agent), {conversation_id: score})
                await pipe.execute()
            ticket_now = await self.ticket(conversation_id)
            if ticket_now is not None:
                await self._route(ticket_now)
        return await self.position(conversation_id)

    async def position(self, conversation_id: str) -> Position:
        """Return the 1-based place in the team's queue and an expected wait (0 once placed)."""
        ticket = await self.ticket(conversation_id)
        if ticket is None or ticket.status != "queued":
            return Position(0, 0.0)
        rank = await self.redis.zrank(self._k("queue", ticket.team), conversation_id)
        place = (rank or 0) + 1
        handled = [float(x) for x in await self.redis.lrange(self._k("handled"), 0, 49)]
        average = sum(handled) / len(handled) if handled else self.settings.default_handle_seconds
        online = await self.redis.zrange(self._k("online", "team", ticket.team), 0, -1, withscores=True)
        slots = int(sum(capacity for _, capacity in online)) or 1
        # Everyone ahead must finish first, spread over the team's concurrent slots.
        return Position(place, round(place * average / slots, 1))

    # Routing ----------------------------------------------------------------------------------
    async def _head(self, key: str, skip: set[str]) -> list[tuple[str, float]]:
        rows = await self.redis.zrange(key, 0, self.settings.scan_depth - 1, withscores=True)
        return [(member, float(score)) for member, score in rows if member not in skip]

    async def _available(self) -> set[str]:
        return set(await self.redis.zrange(self._k("avail", "all"), 0, -1))

    async def _route(self, ticket: Ticket) -> Placement | None:
        """Place one new ticket by the chain: dedicated → sticky → team (least loaded) → anyone."""
        available = await self._available()
        if not available:
            return None
        tried: set[str] = {ticket.transferred_from} if ticket.transferred_from else set()
        for step, agent_id in (("dedicated", ticket.dedicated_agent), ("sticky", ticket.last_agent)):
            if agent_id and agent_id in available and agent_id not in tried:
                tried.add(agent_id)
                placement = await self._place(ticket.conversation_id, agent_id, step)
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
                    placement = await self._place(ticket.conversation_id, agent_id, step)
                    if isinstance(placement, Placement):
                        return placement
                    if placement == _TICKET_GONE:
                        return None
        return None

    async def _pick(self, agent: Agent, available: set[str], skip: set[str]) -> tuple[str, str] | None:
        """Return the best waiting ticket for ``agent`` and the chain step that gives it, or None."""
        for member, _ in await self._head(self._k("dedicated", agent.id), skip):
            return member, "dedicated"
        best: tuple[float, str, str] | None = None
        for member, score in await self._head(self._k("sticky", agent.id), skip):
            ticket = await self.ticket(member)
            if ticket and (not ticket.dedicated_agent or ticket.dedicated_agent not in available):
                best = (score, member, "sticky")
                break
        teams = set(agent.teams)
        for team in sorted(await self.teams()):
            if team in teams:
                step = "team"
            elif not await self.redis.zcard(self._k("avail", "team", team)):
                step = "anyone"  # nobody of that team can take it, so anyone may
            else:
                continue
            for member, score in await self._head(self._k("queue", team), skip):
                if best is not None and score >= best[0]:
                    break
                ticket = await self.ticket(member)
                if ticket is None:
                    continue
                if ticket.dedicated_agent in available and ticket.dedicated_agent != agent.id:
                    continue
                if ticket.last_agent in available and ticket.last_agent != agent.id:
                    continue
                if ticket.transferred_from and (step == "anyone" or ticket.transferred_from == agent.id):
                    continue
                best = (score, member, step)
                break
        return (best[1], best[2]) if best else None

    async def dispatch_agent(self, agent_id: str, skip: set[str] | None = None) -> list[Placement]:
        """Fill one agent's free slots from the queues (called when the agent frees up or comes online)."""
        placements: list[Placement] = []
        skip = skip if skip is not None else set()
        while True:
            agent = await self.agent(agent_id)
            if agent is None or not agent.available:
                return placements
            picked = await self._pick(agent, await self._available(), skip)
            if picked is None:
                return placements
            conversation_id, step = picked
            placement = await self._place(conversation_id, agent_id, step)
            if isinstance(placement, Placement):
                placements.append(placement)
            elif placement == _TICKET_GONE:
                skip.add(conversation_id)  # taken by another instance meanwhile, or closed
            else:
                return placements  # the agent filled up or went away meanwhile

    async def dispatch(self, exclude: frozenset[str] = frozenset()) -> list[Placement]:
        """Place waiting conversations with every available agent (but ``exclude``), round-robin."""
        placements: list[Placement] = []
        skip: set[str] = set()
        while True:
            progressed = False
            # Least-loaded first (the index's score is load / capacity), so work spreads across the team.
            for agent_id in await self.redis.zrange(self._k("avail", "all"), 0, -1):
                if agent_id in exclude:
                    continue
                agent = await self.agent(agent_id)
                if agent is None or not agent.available:
                    continue
                picked = await self._pick(agent, await self._available(), skip)
                if picked is None:
                    continue
                placement = await self._place(picked[0], agent_id, picked[1])
                if isinstance(placement, Placement):
                    placements.append(placement)
                    progressed = True
                elif placement == _TICKET_GONE:
                    skip.add(picked[0])
                    progressed = True
            if not progressed:
                return placements

    async def _place(self, conversation_id: str, agent_id: str, step: str) -> Placement | int:
        ticket = await self.ticket(conversation_id)
        if ticket is None:
            return _TICKET_GONE
        auto = ticket.team in self.settings.auto_assign_teams
        status = "assigned" if auto else "offered"
        deadline = int((time.time() + self.settings.offer_timeout_seconds) * 1000)
        claimed = await self._claim(
            keys=[
                *self._ticket_keys(ticket),
                self._k("agent", agent_id),
                self._k("alive", agent_id),
                self._k("convs", agent_id),
                self._k("offers"),
            ],
            args=[conversation_id, agent_id, status, deadline, int(time.time() * 1000), self._base],
        )
        if int(claimed) != 1:
            return _TICKET_GONE if int(claimed) == 0 else _AGENT_UNAVAILABLE
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
                await self.redis.hset(self._k("agent", agent.id), "status", "offline")
                await self._refresh_agent(agent.id)
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
