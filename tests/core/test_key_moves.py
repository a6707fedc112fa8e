"""Keys moved to their hash-tagged names on a real Redis: each kind, its lifetime, twice and at once."""

from __future__ import annotations

import asyncio
import uuid

import redis.asyncio as aioredis

from core.key_moves import MOVED_TTL_SECONDS, move_prefixed, move_prefixed_once
from core.keys import Keys
from handoff.offline import OfflineMessages


async def test_strings_hashes_and_sorted_sets_move_with_their_lifetimes_once(
    shared_redis: aioredis.Redis, key_prefix: str
) -> None:
    old, new = f"{key_prefix}:mv{uuid.uuid4().hex[:6]}", f"{key_prefix}:{{mv}}{uuid.uuid4().hex[:6]}"
    await shared_redis.set(f"{old}:live", "3", ex=600)
    await shared_redis.hset(f"{old}:draft", mapping={"zh-CN/gift": '{"id": "gift"}', "en/gift": "{}"})
    await shared_redis.zadd(f"{old}:versions", {"1": 1, "3": 3})
    await shared_redis.set(f"{new}:live", "4")  # moved already (by another instance): it wins

    moved = await asyncio.gather(*(move_prefixed(shared_redis, old, new) for _ in range(3)))

    assert 2 <= sum(moved) <= 6  # the hash and the sorted set, copied by one or more of the three
    assert await shared_redis.get(f"{new}:live") == "4"
    assert await shared_redis.hgetall(f"{new}:draft") == {"zh-CN/gift": '{"id": "gift"}', "en/gift": "{}"}
    assert await shared_redis.zrange(f"{new}:versions", 0, -1, withscores=True) == [("1", 1.0), ("3", 3.0)]
    assert [k async for k in shared_redis.scan_iter(match=f"{old}:*")] == []
    assert await move_prefixed(shared_redis, old, new) == 0


async def test_a_finished_pass_is_not_scanned_again_until_its_marker_lapses(
    shared_redis: aioredis.Redis, key_prefix: str
) -> None:
    old, new = f"{key_prefix}:mo{uuid.uuid4().hex[:6]}", f"{key_prefix}:{{mo}}{uuid.uuid4().hex[:6]}"
    await shared_redis.set(f"{old}:a", "1")
    assert await move_prefixed_once(shared_redis, old, new) == 1
    assert 0 < await shared_redis.ttl(f"{old}~moved") <= MOVED_TTL_SECONDS
    # Every later start skips the scan of the whole keyspace, even if an older engine wrote an old name.
    await shared_redis.set(f"{old}:b", "2")
    assert await move_prefixed_once(shared_redis, old, new) == 0
    assert await shared_redis.get(f"{old}:b") == "2"
    # Once the marker lapses (deleted here), the next start moves what an older engine wrote meanwhile.
    await shared_redis.delete(f"{old}~moved")
    assert await move_prefixed_once(shared_redis, old, new) == 1
    assert (await shared_redis.get(f"{new}:a"), await shared_redis.get(f"{new}:b")) == ("1", "2")


async def test_offline_messages_left_before_the_tag_are_still_open_for_their_team(
    shared_redis: aioredis.Redis, key_prefix: str
) -> None:
    prefix = f"{key_prefix}lm{uuid.uuid4().hex[:6]}"
    keys = Keys(prefix)
    # The layout an engine before the {left} tag wrote.
    await shared_redis.hset(
        f"{keys.legacy_offline('item')}:m1",
        mapping={
            "conversation": "rest:1",
            "team": "support",
            "text": "请回电",
            "tier": "vip",
            "channel": "rest",
            "created_ms": "1000",
            "status": "open",
            "agent": "",
        },
    )
    await shared_redis.zadd(f"{keys.legacy_offline('open')}:support", {"m1": 1000})
    await shared_redis.set(keys.offline_leaving("rest:2"), "support|zh", ex=3600)
    offline = OfflineMessages(shared_redis, prefix)

    assert await offline.adopt_legacy_keys() == 2

    [message] = await offline.open({"support"})
    assert (message.id, message.text, message.tier) == ("m1", "请回电", "vip")
    claimed = await offline.claim("m1", "ann")
    assert claimed is not None
    assert claimed.agent == "ann"
    assert await offline.leaving("rest:2") == ("support", "zh")  # a customer mid-message is not moved
