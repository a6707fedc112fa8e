"""Per-entry usage counts (answered, suggested, escalated near) on the real test Redis."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from core.keys import Keys
from knowledge_base.formats import load_bytes
from knowledge_base.index import KnowledgeIndex
from knowledge_base.live import SEED_FILE
from knowledge_base.matcher import Band, Thresholds
from knowledge_base.usage import EntryUsage

DAY = dt.date(2026, 12, 3)


@pytest.fixture(scope="module")
def seed() -> KnowledgeIndex:
    return KnowledgeIndex(load_bytes(SEED_FILE.read_bytes(), "yaml"))


@pytest.fixture
def usage(redis_client: aioredis.Redis, key_prefix: str) -> EntryUsage:
    return EntryUsage(redis_client, Keys(f"{key_prefix}u{uuid.uuid4().hex[:6]}").kb)


async def test_answers_suggestions_and_escalations_are_counted_per_entry_and_window(
    seed: KnowledgeIndex, usage: EntryUsage
) -> None:
    answered = seed.find("退款多久能到账？", "zh-CN")
    assert answered is not None
    assert answered.decision.band is Band.ANSWER
    # The same index deciding with thresholds no question reaches: an escalation near its best entry.
    strict = seed.with_thresholds(Thresholds(answer=50.0, suggest=40.0)).find("退款多久能到账？", "zh-CN")
    assert strict is not None
    assert strict.decision.band is Band.ESCALATE
    loose = seed.with_thresholds(Thresholds(answer=50.0, suggest=-50.0)).find("退款多久能到账？", "zh-CN")
    assert loose is not None
    assert loose.decision.band is Band.SUGGEST
    assert len(loose.entries) > 1

    for _ in range(3):
        usage.count(answered, DAY)
    usage.count(answered, DAY - dt.timedelta(days=10))  # inside 30 days, outside 7
    usage.count(answered, DAY - dt.timedelta(days=40))  # outside both
    usage.count(strict, DAY)
    usage.count(loose, DAY)
    usage.count(None, DAY)  # no KB for the language: nothing to count
    assert await usage.summary(DAY) == {}, "nothing is written before a flush"
    await usage.flush()
    summary = await usage.summary(DAY)

    refund = summary["zh-CN/refund_time"]
    assert refund["answer"] == [3, 4]
    assert refund["escalate"] == [1, 1]
    assert refund["suggest"] == [1, 1]
    assert refund["last_used"] == DAY.isoformat()
    others = {e.id for e in loose.entries[1:]}
    assert {k.split("/")[1] for k, v in summary.items() if v["suggest"] == [1, 1]} == others | {"refund_time"}


async def test_counts_wait_in_memory_while_redis_is_away(
    seed: KnowledgeIndex, redis_client: aioredis.Redis, key_prefix: str
) -> None:
    keys = Keys(f"{key_prefix}u{uuid.uuid4().hex[:6]}").kb
    gone = aioredis.Redis(port=1, socket_connect_timeout=0.2)  # nothing listens on port 1
    usage = EntryUsage(gone, keys)
    found = seed.find("退款多久能到账？", "zh-CN")
    usage.count(found, DAY)
    with pytest.raises((RedisConnectionError, OSError)):
        await usage.flush()
    await gone.close()
    usage._redis = redis_client  # Redis is back: the held count goes out with the next one
    usage.count(found, DAY)
    await usage.flush()
    assert (await EntryUsage(redis_client, keys).summary(DAY))["zh-CN/refund_time"]["answer"] == [2, 2]
