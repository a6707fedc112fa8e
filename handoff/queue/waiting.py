"""Waiting customers: place in line, the expected wait and what each was told."""

from __future__ import annotations

from collections.abc import Sequence

from handoff.queue.models import Position, Ticket, Told
from handoff.queue.presence import Presence


class Waiting(Presence):
    """Places in line, expected waits, and what waiting customers were told."""

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
            pipe.hget(self._q.ticket(conversation_id), "status")
            pipe.zrank(self._q.team_queue(team), conversation_id)
            pipe.lrange(self._q.handled, 0, 49)
            pipe.zrange(self._q.online_team(team), 0, -1, withscores=True)
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
        handled = await self.redis.lrange(self._q.handled, 0, 49)
        online = await self.redis.zrange(self._q.online_team(team), 0, -1, withscores=True)
        return self._pace_of(handled, online)

    async def positions(self, team: str, limit: int = 500) -> list[tuple[str, Position]]:
        """Return the first ``limit`` waiting conversations of a team with their place and expected wait."""
        members = await self.redis.zrange(self._q.team_queue(team), 0, limit - 1)
        average, slots = await self._pace(team)
        return [(m, Position(i, round(i * average / slots, 1))) for i, m in enumerate(members, start=1)]

    async def told(self, conversation_ids: Sequence[str]) -> list[Told]:
        """Return what each waiting customer was told of their place and of leaving a message."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for conversation_id in conversation_ids:
                pipe.hmget(self._q.ticket(conversation_id), ["told", "enqueued_ms", "told_wait"])
            rows = await pipe.execute()
        return [Told(str(a or ""), int(b or 0), str(c or "")) for a, b, c in rows]

    async def set_told(self, conversation_id: str, before: str, after: str, field: str = "told") -> bool:
        """Record a new told value only if it is still ``before`` (one instance tells, not all)."""
        done = await self._told(keys=[self._q.ticket(conversation_id)], args=[field, before, after])
        return int(done) == 1

    async def waiting(self, team: str, limit: int = 100) -> list[Ticket]:
        """Return a team's waiting conversations in priority order."""
        members = await self.redis.zrange(self._q.team_queue(team), 0, limit - 1)
        found = [await self.ticket(m) for m in members]
        return [t for t in found if t is not None]
