"""Failovers during real traffic, on Sentinel and on Redis Cluster: a master SIGKILLed, nothing lost.

The fault tests' deployment (two `python -m bot serve` behind an alternating load balancer, Telegram
webhooks with the platform's retries and re-deliveries), on a replicated Redis instead of one server:

* Sentinel (1 master, 1 replica, 3 sentinels): the master is SIGKILLed, the sentinels promote the
  replica, and the killed server comes back as the new master's replica;
* Redis Cluster (3 masters, 3 replicas): the master of the service events' slot (``{rp}``, written on
  every message) is SIGKILLed, its replica is promoted after the node timeout, and the killed node comes
  back as a replica.

Every message must be answered (0 lost, 0 duplicated but the flagged), no webhook may answer 500 (503
while a slot has no master), and the time to recover is printed (``FAULTS_REPORT`` collects it with the
other scenarios).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from core.keys import Keys
from tests.bot.test_faults import CUSTOMERS, Deployment, answered, deployed, run
from tests.cluster import ClusterGroup
from tests.sentinel import SentinelGroup


@pytest_asyncio.fixture(scope="module")
async def sentinel_deployment(
    trained_model: object, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Deployment]:
    folder = tmp_path_factory.mktemp("sentinel")
    group = SentinelGroup(folder)
    await group.start()
    try:
        async with deployed(group, folder, "sentinel") as ready:
            yield ready
    finally:
        await group.stop()


@pytest_asyncio.fixture(scope="module")
async def cluster_deployment(
    trained_model: object, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Deployment]:
    folder = tmp_path_factory.mktemp("cluster")
    group = ClusterGroup(folder)
    await group.start()
    try:
        async with deployed(group, folder, "cluster") as ready:
            yield ready
    finally:
        await group.stop()


async def test_no_fault_on_sentinel(sentinel_deployment: Deployment) -> None:
    await run(sentinel_deployment, "Sentinel, no fault")


async def test_the_master_killed_and_the_replica_promoted(sentinel_deployment: Deployment) -> None:
    group = sentinel_deployment.redis
    assert isinstance(group, SentinelGroup)
    recovery: list[float] = []

    async def fault() -> None:
        await answered(sentinel_deployment, CUSTOMERS)
        old_port = await group.master_port()
        killed = time.monotonic()
        dead = await group.kill_master()
        await group.settled(0)  # a new master: the replica, promoted
        assert await group.master_port() != old_port
        recovery.append(time.monotonic() - killed)
        await group.restart(dead)  # back as the new master's replica
        await group.settled(1)

    await run(sentinel_deployment, "Sentinel: master SIGKILLed, replica promoted", fault)
    print(f"failover: a new master answered {recovery[0]:.1f} s after the kill")


async def test_no_fault_on_a_cluster(cluster_deployment: Deployment) -> None:
    await run(cluster_deployment, "Cluster, no fault")


async def test_a_cluster_master_killed_and_its_replica_promoted(cluster_deployment: Deployment) -> None:
    group = cluster_deployment.redis
    assert isinstance(group, ClusterGroup)
    events = Keys(cluster_deployment.prefix).reports.stream
    recovery: list[float] = []

    async def fault() -> None:
        await answered(cluster_deployment, CUSTOMERS)
        killed = time.monotonic()
        dead = await group.kill_master(events)
        await group.failed_over(events, dead)  # every slot served again: the replica, promoted
        recovery.append(time.monotonic() - killed)
        await dead.start()  # back, as its old replica's replica (nodes.conf remembers the cluster)
        await group.settled()

    await run(cluster_deployment, "Cluster: a master SIGKILLed, its replica promoted", fault)
    print(f"failover: every slot served {recovery[0]:.1f} s after the kill")
