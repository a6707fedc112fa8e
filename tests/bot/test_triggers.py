"""Handoff triggers besides asking: the knowledge base failing twice in a row, and tier rules."""

from __future__ import annotations

import uuid

import pytest_asyncio
from aiohttp.test_utils import TestClient

from core.state import Owner
from handoff.web.appkeys import PROFILES, STATES
from tests.conftest import EngineFactory, say, texts

MISS_1 = "你们的产品支持在火星上使用吗"
MISS_2 = "能不能把包裹寄到南极科考站"
ANSWERED = "退款多久能到账？"


async def test_two_knowledge_base_misses_in_a_row_bring_a_human_without_asking(
    engine: TestClient, sender: str
) -> None:
    conversation = f"rest:{sender}"
    first = await say(engine, sender, MISS_1)
    assert "需要为您转接人工客服吗" in texts(first)  # the first miss only offers
    assert await engine.app[STATES].get(conversation) is Owner.BOT
    second = await say(engine, sender, MISS_2)
    said = texts(second)
    assert "还是没能回答" in said
    assert "正在为您转接人工客服" in said
    assert "需要为您转接" not in said  # not asked again
    assert await engine.app[STATES].get(conversation) is Owner.QUEUED
    last = (await engine.app[STATES].history(conversation))[-1]
    assert (last.actor, last.reason) == ("bot", "kb_misses_in_a_row")


async def test_an_answer_or_a_no_thanks_in_between_starts_the_count_again(
    engine: TestClient, sender: str
) -> None:
    conversation = f"rest:{sender}"
    await say(engine, sender, MISS_1)
    assert "1–3 个工作日" in texts(await say(engine, sender, ANSWERED))
    assert "需要为您转接人工客服吗" in texts(await say(engine, sender, MISS_2))
    await say(engine, sender, "不用了")  # they chose to carry on with the bot
    assert "需要为您转接人工客服吗" in texts(await say(engine, sender, MISS_1))
    assert await engine.app[STATES].get(conversation) is Owner.BOT


@pytest_asyncio.fixture
async def vip_rule_engine(trained_model: object, start_engine: EngineFactory, key_prefix: str) -> TestClient:
    """An instance of its own whose rule sends VIP customers straight to a human."""
    prefix = key_prefix + "vr" + uuid.uuid4().hex[:4]
    return await start_engine(
        instance_id="rule-" + prefix, redis_prefix=prefix, handoff_direct_tiers=frozenset({"vip"})
    )


async def test_a_vip_skips_the_bot_by_rule_and_is_told_in_their_language(vip_rule_engine: TestClient) -> None:
    engine = vip_rule_engine
    vip, regular = "vip-" + uuid.uuid4().hex[:6], "reg-" + uuid.uuid4().hex[:6]
    profiles = engine.app[PROFILES]
    star = await profiles.seen(f"rest:{vip}", f"rest:{vip}")
    await profiles.update(star.id, "test", {"tier": "vip"})
    plain = await profiles.seen(f"rest:{regular}", f"rest:{regular}")
    await profiles.update(plain.id, "test", {"tier": "regular"})

    replies = await say(engine, vip, "how long does a refund take?")
    said = texts(replies)
    assert "connecting you to a human agent" in said
    assert "business days" not in said  # the bot did not answer
    assert "You are number 1 in the queue" in said
    states = engine.app[STATES]
    assert await states.get(f"rest:{vip}") is Owner.QUEUED
    last = (await states.history(f"rest:{vip}"))[-1]
    assert (last.actor, last.reason) == ("rule", "rule: tier vip")
    # Further messages wait for the agent; the rule does not queue twice.
    assert await say(engine, vip, "hello?") == []

    assert "1–3 个工作日" in texts(await say(engine, regular, ANSWERED))
    assert await states.get(f"rest:{regular}") is Owner.BOT
