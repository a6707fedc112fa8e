"""Agents' routing records: teams, capacity, status, heartbeat and load."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from handoff.queue.base import _QueueBase
from handoff.queue.models import Agent


class Presence(_QueueBase):
    """Agents' routing records: who is on, in which teams, with what load."""

    async def upsert_agent(self, agent_id: str, name: str, teams: Sequence[str], capacity: int) -> None:
        """Create or update an agent's routing record (status and load are kept)."""
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        old_teams = await self.redis.hget(self._q.agent(agent_id), "teams") or ""
        for team in old_teams.split(","):
            if team:
                await self.redis.zrem(self._q.avail_team(team), agent_id)
                await self.redis.zrem(self._q.online_team(team), agent_id)
        await self.redis.hset(
            self._q.agent(agent_id), mapping={"name": name, "teams": ",".join(teams), "capacity": capacity}
        )
        await self.redis.hsetnx(self._q.agent(agent_id), "status", "offline")
        await self.redis.hsetnx(self._q.agent(agent_id), "load", 0)
        await self.redis.sadd(self._q.agents, agent_id)
        await self._refresh_agent(agent_id)

    async def _refresh_agent(self, agent_id: str) -> None:
        await self._refresh(keys=[self._q.agent(agent_id)], args=[self._base, agent_id])

    async def heartbeat(self, agent_id: str) -> None:
        """Mark the agent's console as connected for the next heartbeat TTL."""
        ttl_ms = int(self.settings.heartbeat_ttl_seconds * 1000)
        await self.redis.set(self._q.alive(agent_id), "1", px=ttl_ms)
        await self._refresh_agent(agent_id)
        await self.presence.seen(agent_id)

    async def agent(self, agent_id: str) -> Agent | None:
        """Return one agent's record, or None."""
        data = await self.redis.hgetall(self._q.agent(agent_id))
        if not data:
            return None
        return self._agent_from(agent_id, data, bool(await self.redis.exists(self._q.alive(agent_id))))

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
        ids = sorted(await self.redis.smembers(self._q.agents))
        if not ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for agent_id in ids:
                pipe.hgetall(self._q.agent(agent_id))
                pipe.exists(self._q.alive(agent_id))
            results = await pipe.execute()
        agents = []
        for i, agent_id in enumerate(ids):
            data, alive = results[2 * i], results[2 * i + 1]
            if data:
                agents.append(self._agent_from(agent_id, data, bool(alive)))
        return agents

    async def conversations_of(self, agent_id: str) -> set[str]:
        """Return the conversations offered to or handled by the agent."""
        return set(await self.redis.smembers(self._q.convs(agent_id)))

    async def teams(self) -> set[str]:
        """Return every team that has had a conversation queued."""
        return set(await self.redis.smembers(self._q.teams))
