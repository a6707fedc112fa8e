"""The audit log on a real Redis: append, search by each filter, and entries past the retention fall off."""

from __future__ import annotations

import time
import uuid

import redis.asyncio as aioredis

from core.keys import Keys
from staff.audit import AuditLog


async def test_entries_are_searched_newest_first_by_actor_action_target_and_time(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    log = AuditLog(redis_client, Keys(key_prefix + "au" + uuid.uuid4().hex[:6]))
    await log.record("ann", "transcript_viewed", "rest:cust-1", {"after": "0"}, "10.0.0.1")
    await log.record("bob", "transcript_viewed", "wechat:oAbc", address="10.0.0.2")
    await log.record("ann", "profile_viewed", "rest:cust-1", {"phone_shown": False})
    newest = await log.search()
    assert [(e.actor, e.action) for e in newest] == [
        ("ann", "profile_viewed"),
        ("bob", "transcript_viewed"),
        ("ann", "transcript_viewed"),
    ]
    assert [e.action for e in await log.search(actor="ann")] == ["profile_viewed", "transcript_viewed"]
    assert [e.actor for e in await log.search(action="transcript_viewed")] == ["bob", "ann"]
    assert [e.actor for e in await log.search(target="oAbc")] == ["bob"]
    assert newest[-1].detail == {"after": "0"}
    assert newest[-1].address == "10.0.0.1"
    assert await log.search(until=time.time() - 3600) == []
    assert len(await log.search(since=time.time() - 60, limit=2)) == 2


async def test_entries_older_than_the_retention_fall_off_at_the_next_write(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    keys = Keys(key_prefix + "au" + uuid.uuid4().hex[:6])
    log = AuditLog(redis_client, keys, retention_days=30)
    old_ms = int((time.time() - 31 * 86400) * 1000)
    fields = {"actor": "ann", "action": "transcript_viewed", "target": "rest:x", "detail": "{}"}
    await redis_client.xadd(keys.audit, fields, id=f"{old_ms}-0")  # written 31 days ago
    await log.record("bob", "profile_viewed", "rest:y")
    assert [e.actor for e in await log.search()] == ["bob"]
