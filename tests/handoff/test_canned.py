"""Canned replies on the real test Redis: personal ones override shared ones, bad input is refused."""

from __future__ import annotations

import uuid

import pytest
import redis.asyncio as aioredis

from handoff.canned import MAX_PER_SCOPE, CannedError, CannedReplies


@pytest.fixture
def canned(redis_client: aioredis.Redis, key_prefix: str) -> CannedReplies:
    return CannedReplies(redis_client, f"{key_prefix}cr{uuid.uuid4().hex[:6]}")


async def test_an_agent_sees_their_own_first_and_their_own_overrides_a_shared_shortcut(
    canned: CannedReplies,
) -> None:
    await canned.save("shared", "sue", "hi", "您好，很高兴为您服务")
    await canned.save("shared", "sue", "bye", "感谢您的耐心，再见")
    await canned.save("personal", "ann", "/hi", "您好，我是 Ann")  # a leading "/" is not part of it
    await canned.save("personal", "bob", "zz", "Bob's own")
    mine = [(c.shortcut, c.scope, c.text) for c in await canned.for_agent("ann")]
    assert mine == [("hi", "personal", "您好，我是 Ann"), ("bye", "shared", "感谢您的耐心，再见")]
    assert [c.shortcut for c in await canned.for_agent("carl")] == ["bye", "hi"]
    assert await canned.delete("personal", "ann", "hi")
    assert not await canned.delete("personal", "ann", "hi")
    assert [c.text for c in await canned.for_agent("ann")][1] == "您好，很高兴为您服务"


@pytest.mark.parametrize(
    ("scope", "shortcut", "text", "message"),
    [
        ("team", "hi", "x", "scope must be one of"),
        ("personal", "two words", "x", "one word"),
        ("personal", "a/b", "x", "one word"),
        ("personal", "x" * 33, "x", "one word"),
        ("personal", "hi", "   ", "1 to 2000"),
        ("personal", "hi", "x" * 2001, "1 to 2000"),
    ],
)
async def test_bad_replies_are_refused_clearly(
    canned: CannedReplies, scope: str, shortcut: str, text: str, message: str
) -> None:
    with pytest.raises(CannedError, match=message):
        await canned.save(scope, "ann", shortcut, text)


async def test_a_scope_holds_a_bounded_number(canned: CannedReplies) -> None:
    for i in range(MAX_PER_SCOPE):
        await canned.save("personal", "ann", f"k{i}", "x")
    with pytest.raises(CannedError, match="at most"):
        await canned.save("personal", "ann", "one-more", "x")
    await canned.save("personal", "ann", "k0", "replacing is fine")
