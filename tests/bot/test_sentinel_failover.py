"""A Sentinel failover during real traffic: the master SIGKILLed, the replica promoted, nothing lost.

The fault tests' deployment (two `python -m bot serve` behind an alternating load balancer, Telegram
webhooks with the platform's retries and re-deliveries), on a Sentinel group instead of one server:
REDIS_URL names the three sentinels and the master. Mid-traffic the master is SIGKILLed; the sentinels
promote the replica, and the killed server comes back as the new master's replica. Every message must
be answered (0 lost, 0 duplicated but the flagged), no webhook may answer 500 (503 while no master
answers), and the time to recover is printed (``FAULTS_REPORT`` collects it with the other scenarios).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.bot.test_faults import CUSTOMERS, Deployment, answered, deployed, run
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
