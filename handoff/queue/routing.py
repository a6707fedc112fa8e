"""Routing: dedicated → last agent → team → anyone, one atomic claim per step."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from core.redis import AsyncRedis
from core.state import IllegalTransition, Owner
from handoff.queue.models import Agent, Placement, Ticket
from handoff.queue.scripts import AGENT_UNAVAILABLE, TICKET_GONE
from handoff.queue.waiting import Waiting

_PAGE = 8


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


class Routing(Waiting):
    """Place tickets with agents by the routing chain, one atomic claim per step."""

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
        return _Availability(self.redis, self._q.avail_all)

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
                if placement == TICKET_GONE:
                    return None
        steps = [("team", self._q.avail_team(ticket.team))]
        if not ticket.transferred_from:
            steps.append(("anyone", self._q.avail_all))
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
                    if placement == TICKET_GONE:
                        return None
        return None

    async def _pick(self, agent: Agent, available: _Availability, skip: set[str]) -> _Picked | None:
        """Return the best waiting ticket for ``agent`` with its chain step and queue's team, or None.

        The team is "" for the dedicated and sticky steps (those tickets are not taken from a team queue).
        """
        async for member, _ in self._head(self._q.dedicated(agent.id), skip):
            return _Picked(member, "dedicated", "", None)
        best: tuple[float, _Picked] | None = None
        async for member, score in self._head(self._q.sticky(agent.id), skip):
            ticket = await self.ticket(member)
            if ticket and not await available.has(ticket.dedicated_agent):
                best = (score, _Picked(member, "sticky", "", ticket))
                break
        teams = set(agent.teams)
        for team in sorted(await self.teams()):
            if team in teams:
                step = "team"
            elif not await self.redis.zcard(self._q.avail_team(team)):
                step = "anyone"  # nobody of that team can take it, so anyone may
            else:
                continue
            async for member, score in self._head(self._q.team_queue(team), skip):
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
            elif placement == TICKET_GONE:
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
            for agent_id in await self.redis.zrange(self._q.avail_all, 0, -1):
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
                elif placement == TICKET_GONE:
                    skip.add(picked.conversation_id)
                    progressed = True
            if not progressed:
                return placements

    async def _place_picked(self, picked: _Picked, agent_id: str) -> Placement | int:
        """Claim what ``_pick`` chose; if another agent got there first, the next one in that queue."""
        placement = await self._place(picked.conversation_id, agent_id, picked.step, picked.ticket)
        if placement == TICKET_GONE and picked.team:
            placement = await self._place_head(picked.team, agent_id, picked.step)
        return placement

    async def _place(
        self, conversation_id: str, agent_id: str, step: str, known: Ticket | None = None
    ) -> Placement | int:
        # A ticket the caller just read or made saves a read; the claim checks its status atomically.
        ticket = known or await self.ticket(conversation_id)
        if ticket is None:
            return TICKET_GONE
        auto = ticket.team in self.settings.auto_assign_teams
        status = "assigned" if auto else "offered"
        deadline = int((time.time() + self.settings.offer_timeout_seconds) * 1000)
        event = {"type": status, "conversation": conversation_id, "step": step}
        claimed = await self._claim(
            keys=[
                *self._ticket_keys(ticket),
                self._q.agent(agent_id),
                self._q.alive(agent_id),
                self._q.convs(agent_id),
                self._q.offers,
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
            return TICKET_GONE if int(claimed) == 0 else AGENT_UNAVAILABLE
        if auto:
            # Announced once the conversation is the agent's, so the console finds it theirs.
            await self._to_agent(conversation_id, agent_id, step)
            await self._notify(agent_id, event)
        else:
            await self._offered(ticket, agent_id)
        return Placement(conversation_id, agent_id, step, status)

    async def _offered(self, ticket: Ticket, agent_id: str) -> None:
        """Report an offer (an assignment is reported by the state change it makes)."""
        now = time.time()
        await self.observe(
            "offered",
            ticket.conversation_id,
            key=f"{ticket.conversation_id}:{agent_id}:{int(now * 1000)}",
            agent=agent_id,
            team=ticket.team,
            tier=ticket.tier,
            value=max(0.0, now - ticket.enqueued_ms / 1000),
        )

    async def _place_head(self, team: str, agent_id: str, step: str) -> Placement | int:
        """After losing the race for a queue's head: claim the next ticket the agent may take, atomically."""
        auto = team in self.settings.auto_assign_teams
        status = "assigned" if auto else "offered"
        before, _, after = json.dumps({"type": status, "conversation": "@", "step": step}).partition('"@"')
        claimed = await self._claim_head(
            keys=[
                self._q.team_queue(team),
                self._q.agent(agent_id),
                self._q.alive(agent_id),
                self._q.convs(agent_id),
                self._q.offers,
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
            return TICKET_GONE
        conversation_id = str(claimed)
        if auto:
            await self._to_agent(conversation_id, agent_id, step)
            await self._notify(agent_id, {"type": status, "conversation": conversation_id, "step": step})
        elif (ticket := await self.ticket(conversation_id)) is not None:
            await self._offered(ticket, agent_id)
        return Placement(conversation_id, agent_id, step, status)

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

    async def finish(self, conversation_id: str, agent_id: str, handled_seconds: float) -> bool:
        """Close an agent's conversation in the queue: free the slot and record the handling time."""
        done = await self._finish(
            keys=[
                self._q.ticket(conversation_id),
                self._q.agent(agent_id),
                self._q.convs(agent_id),
                self._q.offers,
                self._q.handled,
            ],
            args=[conversation_id, agent_id, round(handled_seconds, 1), self._base],
        )
        if int(done) == 1:
            await self.dispatch_agent(agent_id)
            return True
        return False
