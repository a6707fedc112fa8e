"""The renewed lease on a real Redis: held while work goes on, never taken from a live holder."""

from __future__ import annotations

import asyncio
import uuid

import redis.asyncio as aioredis

from core.lease import Lease


async def test_a_lease_outlives_its_lifetime_while_held_and_goes_when_released(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    key = f"{key_prefix}:lease:{uuid.uuid4().hex[:6]}"
    holder, rival = Lease(redis_client, key, 300), Lease(redis_client, key, 300)
    assert await holder.acquire()
    async with holder:
        # Three lifetimes of work: the renewals keep the rival out all along.
        for _ in range(9):
            await asyncio.sleep(0.1)
            assert not await rival.acquire()
        assert not holder.lost
    assert await redis_client.get(key) is None
    assert await rival.acquire()


async def test_a_holder_whose_lease_was_taken_over_learns_it_lost_it(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    key = f"{key_prefix}:lease:{uuid.uuid4().hex[:6]}"
    holder = Lease(redis_client, key, 300)
    assert await holder.acquire()
    async with holder:
        # As after a Redis outage longer than the lifetime: the key lapsed and someone else took it.
        await redis_client.set(key, "someone-else", px=5000)
        await asyncio.sleep(0.35)
        assert holder.lost
    # Letting go never deletes the new holder's lease.
    assert await redis_client.get(key) == "someone-else"
