"""A ticket's life: enqueue or take, accept, decline, requeue, cancel, the sweep, status changes."""

from __future__ import annotations

import contextlib
import time

from core.state import IllegalTransition, Owner
from handoff.queue.models import STATUSES, TIERS, Placement, Position, Ticket
from handoff.queue.routing import Routing


class Lifecycle(Routing):
    """Move tickets through their life: queued, offered, assigned, requeued, finished."""

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
                self._q.ticket(conversation_id),
                self._q.team_queue(team),
                self._q.teams,
                self._q.dedicated(dedicated_agent or "-"),
                self._q.sticky(ticket.last_agent or "-"),
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
                self._q.ticket(conversation_id),
                self._q.agent(agent_id),
                self._q.alive(agent_id),
                self._q.convs(agent_id),
                self._q.teams,
            ],
            args=[conversation_id, agent_id, self._base, team, *pairs],
        )
        if int(taken) == 1:
            await self._notify(
                agent_id, {"type": "assigned", "conversation": conversation_id, "step": "takeover"}
            )
        return int(taken)

    async def set_status(self, agent_id: str, status: str) -> list[Placement]:
        """Set online / paused / offline; going offline hands the agent's conversations back."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}")
        if status == "online":
            # Alive before online: a sweep (any instance, every second) that saw "online" without a
            # heartbeat in between would log the agent off again as a lost connection.
            ttl_ms = int(self.settings.heartbeat_ttl_seconds * 1000)
            await self.redis.set(self._q.alive(agent_id), "1", px=ttl_ms)
        await self.redis.hset(self._q.agent(agent_id), "status", status)
        if status == "online":
            await self.heartbeat(agent_id)
        # After the beat: the stretch the reports count starts with this change, not before it.
        teams = await self.redis.hget(self._q.agent(agent_id), "teams") or ""
        await self.presence.changed(agent_id, status, teams.split(",")[0])
        if status == "online":
            return await self.dispatch_agent(agent_id)
        if status == "offline":
            await self.redis.delete(self._q.alive(agent_id))
            await self._refresh_agent(agent_id)
            await self._release_all(agent_id, "agent went offline")
            return await self.dispatch()
        await self._refresh_agent(agent_id)
        return []

    async def accept(self, agent_id: str, conversation_id: str) -> bool:
        """Accept an offer; the conversation becomes the agent's (False if the offer lapsed)."""
        accepted = await self._accept(
            keys=[self._q.ticket(conversation_id), self._q.offers], args=[conversation_id, agent_id]
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
                self._q.agent(agent_id),
                self._q.convs(agent_id),
                self._q.offers,
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

    async def _release_all(self, agent_id: str, reason: str) -> int:
        released = 0
        for conversation_id in await self.conversations_of(agent_id):
            released += await self.requeue(conversation_id, agent_id, reason)
        return released

    async def sweep(self, now_ms: int | None = None) -> int:
        """Requeue offers past their deadline and the work of agents whose heartbeat stopped."""
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        requeued = 0
        for conversation_id in await self.redis.zrangebyscore(self._q.offers, "-inf", now):
            ticket = await self.ticket(conversation_id)
            if ticket is None:
                await self.redis.zrem(self._q.offers, conversation_id)
                continue
            requeued += await self.requeue(conversation_id, ticket.agent, "offer not accepted in time")
        for agent in await self.agents():
            if agent.status != "offline" and not agent.alive:
                # Checked again inside Redis: the agent may have come back since ``agents()`` read them.
                lost = await self._lost(
                    keys=[self._q.agent(agent.id), self._q.alive(agent.id)], args=[self._base, agent.id]
                )
                if int(lost) == 1:
                    requeued += await self._release_all(agent.id, "agent connection lost")
        # Also a safety net: anything still waiting while someone is free gets placed.
        if requeued or await self.redis.zcard(self._q.avail_all):
            await self.dispatch()
        return requeued
