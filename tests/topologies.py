"""The three Redis deployments a two-instance test runs on: one server, Sentinel, and Cluster.

A test (or fixture) that asks for ``topology`` runs once per deployment. One server is the test run's own
Redis; Sentinel (1 master, 1 replica, 3 sentinels) and Cluster (3 masters, 3 replicas) are real groups
from Debian's redis-server, started on first use and shared by the whole run, so each is started once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from bot.appkeys import ACCOUNTS
from core.redis import async_client, close_async
from handoff.web.appkeys import QUEUE
from tests.cluster import ClusterGroup
from tests.sentinel import SentinelGroup

TOPOLOGIES = ("standalone", "sentinel", "cluster")
# The password `tests.bot.test_agent_api.login` signs in with, so its helpers serve these instances too.
STAFF_PASSWORD = "agent password 1"


@dataclass
class Instances:
    """Engine instances A and B on one deployment and key prefix, staffed with Ann and Bob in support."""

    a: TestClient
    b: TestClient
    url: str
    prefix: str
    redis: aioredis.Redis  # type: ignore[type-arg]


@dataclass
class Deployments:
    """The run's deployments, each started on first use; `stop` ends the groups this run started."""

    folder: Path
    standalone_url: str
    key_prefix: str
    start_engine: Callable[..., Awaitable[TestClient]]  # the run's `start_engine` fixture
    groups: dict[str, SentinelGroup | ClusterGroup] = field(default_factory=dict)
    clients: dict[str, aioredis.Redis] = field(default_factory=dict)  # type: ignore[type-arg]
    instances_by_topology: dict[str, Instances] = field(default_factory=dict)

    async def url(self, topology: str) -> str:
        """Return the REDIS_URL of ``topology``, starting its group the first time."""
        if topology == "standalone":
            return self.standalone_url
        if topology not in self.groups:
            group: SentinelGroup | ClusterGroup
            if topology == "sentinel":
                group = SentinelGroup(self.folder / "sentinel")
            elif topology == "cluster":
                group = ClusterGroup(self.folder / "cluster")
            else:
                raise ValueError(f"unknown topology {topology!r}")
            group.folder.mkdir(parents=True, exist_ok=True)
            self.groups[topology] = group
            await group.start()
        return self.groups[topology].url

    async def redis(self, topology: str) -> aioredis.Redis:  # type: ignore[type-arg]
        """Return a client on ``topology`` (one per deployment, as an engine instance has)."""
        if topology not in self.clients:
            self.clients[topology] = async_client(await self.url(topology))
        return self.clients[topology]

    async def instances(self, topology: str) -> Instances:
        """Return engine instances A and B on ``topology`` (a key prefix of their own), started once."""
        if topology not in self.instances_by_topology:
            url = await self.url(topology)
            prefix = f"{self.key_prefix}2i{topology[:2]}"
            engines = [
                await self.start_engine(
                    instance_id=f"{topology[:2]}-{name}",
                    redis_url=url,
                    redis_prefix=prefix,
                    cookie_secure=False,
                )
                for name in ("a", "b")
            ]
            a = engines[0]
            for name in ("ann", "bob"):
                await a.app[ACCOUNTS].set_user(name, STAFF_PASSWORD, ["agent"])
                await a.app[QUEUE].upsert_agent(name, name.title(), ["support"], capacity=2)
            await a.app[ACCOUNTS].set_user("editor1", STAFF_PASSWORD, ["editor"])
            self.instances_by_topology[topology] = Instances(
                a, engines[1], url, prefix, await self.redis(topology)
            )
        return self.instances_by_topology[topology]

    async def stop(self) -> None:
        """Close the engines and clients first (an engine whose Redis is gone retries on), then the groups."""
        for instances in self.instances_by_topology.values():
            await instances.a.close()
            await instances.b.close()
        for client in self.clients.values():
            await close_async(client)
        for group in self.groups.values():
            await group.stop()
