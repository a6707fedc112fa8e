"""Quality inspection on the real test Redis: checklist rules, sampling, scoring, an agent's reviews."""

from __future__ import annotations

import uuid

import pytest
import redis.asyncio as aioredis

from handoff.quality import DEFAULT_CHECKLIST, Quality, QualityError, score
from tests.handoff.test_complaints import Clock

ALL_FIVES = {c.id: 5 for c in DEFAULT_CHECKLIST}


def quality(client: aioredis.Redis, prefix: str, picks: list[float], quota: int = 2) -> Quality:
    """A Quality whose random draws come from ``picks`` (below 0.1 samples)."""
    draws = iter(picks)
    return Quality(client, prefix + "qa" + uuid.uuid4().hex[:4], 0.1, quota, Clock(), lambda: next(draws))


def test_the_weighted_score_and_checklist_rules() -> None:
    assert score(DEFAULT_CHECKLIST, ALL_FIVES) == 100.0
    # 开场问候 missed (10), 准确解答 at 3 of 5 (24 of 40): 100 - 10 - 16 = 74.
    assert score(DEFAULT_CHECKLIST, {**ALL_FIVES, "greeting": 0, "accuracy": 3}) == 74.0
    for bad in (
        {**ALL_FIVES, "accuracy": 6},
        {"greeting": 5},
        {**ALL_FIVES, "smile": 5},
        {**ALL_FIVES, "closing": True},
    ):
        with pytest.raises(QualityError):
            score(DEFAULT_CHECKLIST, bad)


async def test_sampling_takes_a_random_share_within_the_quota_and_every_flagged_conversation(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    qa = quality(redis_client, key_prefix, [0.05, 0.5, 0.01, 0.02, 0.03])
    assert await qa.consider("rest:a", "gus")
    assert not await qa.consider("rest:b", "gus"), "0.5 is above the 10 % rate"
    assert await qa.consider("rest:c", "gus")
    assert not await qa.consider("rest:d", "gus"), "the daily quota of 2 is used up"
    assert not await qa.consider("rest:a", "gus"), "a retried close samples nothing twice"
    assert not await qa.consider("rest:e", "bot"), "bot-only conversations have no agent to inspect"
    await qa.flag("rest:f")
    assert await qa.closed("rest:f", "gus"), "a complaint is always inspected, quota or not"
    assert await qa.consider("rest:a", "gus", "low_rating"), "a low rating names its reason"
    waiting = {s["conversation"]: s["reason"] for s in await qa.samples()}
    assert waiting == {"rest:a": "low_rating", "rest:c": "random", "rest:f": "complaint"}
    with pytest.raises(QualityError):
        await qa.consider("rest:g", "gus", "whim")


async def test_a_review_is_kept_for_the_agent_and_leaves_the_samples(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    qa = quality(redis_client, key_prefix, [0.0, 0.0])
    await qa.consider("rest:r1", "ivy")
    await qa.consider("rest:r2", "ivy")
    with pytest.raises(KeyError):
        await qa.review("rest:never", "sue", ALL_FIVES)
    first = await qa.review(
        "rest:r1", "sue", {**ALL_FIVES, "closing": 0}, {"closing": "没有结束语"}, "整体不错"
    )
    assert first.total == 90.0
    assert first.comments == {"closing": "没有结束语"}
    await qa.review("rest:r2", "sue", {**ALL_FIVES, "accuracy": 0})
    assert [s["conversation"] for s in await qa.samples()] == []
    reviews = await qa.reviews_of("ivy")
    assert [r.conversation for r in reviews] == ["rest:r2", "rest:r1"]
    assert await qa.average("ivy") == (75.0, 2)
    assert not await qa.consider("rest:r1", "ivy", "complaint"), (
        "a reviewed conversation is not sampled again"
    )
    await qa.set_checklist([{"id": "accuracy", "name": "准确解答", "weight": 100}])
    assert (await qa.reviews_of("ivy"))[1].checklist[0]["id"] == "greeting", (
        "old reviews keep their checklist"
    )
    for bad in ([], [{"id": "a", "name": "A", "weight": 50}], [{"id": "a", "name": "", "weight": 100}]):
        with pytest.raises(QualityError):
            await qa.set_checklist(bad)
