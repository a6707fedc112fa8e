"""The per-conversation stream drain on a real Redis: order, deletion, unlisting, a rival, a lost lease."""

from __future__ import annotations

import asyncio
import uuid

import redis.asyncio as aioredis

from bot.engine.streams import Drainer
from core.lease import Lease


def _names(prefix: str) -> tuple[str, str, str, str]:
    conversation = f"telegram:{uuid.uuid4().hex[:8]}"
    base = f"{prefix}:conv:{{{conversation}}}"
    return conversation, f"{base}:q", f"{base}:q:lease", f"{prefix}:active:{uuid.uuid4().hex[:6]}"


async def test_a_drain_takes_entries_in_order_including_late_ones_then_deletes_and_unlists(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    conversation, stream, lease_key, listed = _names(key_prefix)
    await redis_client.zadd(listed, {conversation: 1.0})
    for n in range(25):  # more than one read's batch
        await redis_client.xadd(stream, {"n": str(n)})
    taken: list[str] = []

    async def take(entry_id: str, fields: dict[str, str]) -> None:
        taken.append(fields["n"])
        if fields["n"] == "3":
            await redis_client.xadd(stream, {"n": "late"})  # arrives while the drain runs

    await Drainer(redis_client, listed, delete=True).drain(
        Lease(redis_client, lease_key), stream, conversation, take
    )
    assert taken == [str(n) for n in range(25)] + ["late"]
    assert await redis_client.xlen(stream) == 0
    assert await redis_client.zscore(listed, conversation) is None
    assert await redis_client.get(lease_key) is None  # let go, for the next message's worker


async def test_without_delete_the_taker_removes_entries_and_an_empty_stream_lets_the_lease_go(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    conversation, stream, lease_key, listed = _names(key_prefix)
    await redis_client.zadd(listed, {conversation: 1.0})
    drainer = Drainer(redis_client, listed)
    await drainer.drain(Lease(redis_client, lease_key), stream, conversation, _never)
    assert await redis_client.zscore(listed, conversation) is None
    assert await redis_client.get(lease_key) is None

    await redis_client.xadd(stream, {"n": "1"})
    await redis_client.xadd(stream, {"n": "2"})
    kept: list[str] = []

    async def take(entry_id: str, fields: dict[str, str]) -> None:
        kept.append(fields["n"])
        await redis_client.xdel(stream, entry_id)

    await drainer.drain(Lease(redis_client, lease_key), stream, conversation, take)
    assert kept == ["1", "2"]
    assert await redis_client.get(lease_key) is None


async def test_a_conversation_another_worker_holds_is_left_to_it(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    conversation, stream, lease_key, listed = _names(key_prefix)
    await redis_client.zadd(listed, {conversation: 1.0})
    await redis_client.xadd(stream, {"n": "1"})
    await redis_client.set(lease_key, "another-worker", px=5000)
    await Drainer(redis_client, listed, delete=True).drain(
        Lease(redis_client, lease_key), stream, conversation, _never
    )
    assert await redis_client.xlen(stream) == 1
    assert await redis_client.zscore(listed, conversation) == 1.0
    assert await redis_client.get(lease_key) == "another-worker"


async def test_a_worker_that_lost_its_lease_stops_and_leaves_the_rest_listed(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    conversation, stream, lease_key, listed = _names(key_prefix)
    await redis_client.zadd(listed, {conversation: 1.0})
    for n in range(3):
        await redis_client.xadd(stream, {"n": str(n)})
    taken: list[str] = []

    async def take(entry_id: str, fields: dict[str, str]) -> None:
        taken.append(fields["n"])
        # As after a Redis outage longer than the lease: it lapsed and another worker took it.
        await redis_client.set(lease_key, "another-worker", px=5000)
        await asyncio.sleep(0)

    await Drainer(redis_client, listed, delete=True).drain(
        Lease(redis_client, lease_key), stream, conversation, take
    )
    # The batch's entries were taken; the next read found the lease gone, so nothing was deleted or unlisted.
    assert taken == ["0", "1", "2"]
    assert await redis_client.xlen(stream) == 3
    assert await redis_client.zscore(listed, conversation) == 1.0
    assert await redis_client.get(lease_key) == "another-worker"


async def _never(entry_id: str, fields: dict[str, str]) -> None:
    raise AssertionError(f"entry {entry_id} should not have been taken")
