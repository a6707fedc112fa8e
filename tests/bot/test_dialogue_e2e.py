"""Real dialogue turns end to end: REST channel → router → trained Rasa model → actions → Redis."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from core.keys import Keys
from core.state import ConversationStates, Owner
from tests.conftest import say, texts
from tests.topologies import Instances


async def test_greeting_in_chinese(engine: TestClient, sender: str) -> None:
    replies = await say(engine, sender, "你好")
    assert replies
    assert all(r["recipient_id"] == f"rest:{sender}" for r in replies)
    assert "您好" in texts(replies)


async def test_greeting_in_english(engine: TestClient, sender: str) -> None:
    replies = await say(engine, sender, "hello there")
    assert "Hello" in texts(replies)
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in texts(replies))


async def test_faq_question_answered_from_knowledge_base_zh(engine: TestClient, sender: str) -> None:
    replies = await say(engine, sender, "退款多久能到账？")
    assert "1–3 个工作日" in texts(replies)


async def test_faq_question_answered_from_knowledge_base_en(engine: TestClient, sender: str) -> None:
    replies = await say(engine, sender, "how long does a refund take?")
    assert "1–3 business days" in texts(replies)


async def test_unknown_question_offers_a_human_and_yes_hands_over(
    engine: TestClient, sender: str, redis_client: aioredis.Redis, key_prefix: str
) -> None:
    replies = await say(engine, sender, "你们的产品支持在火星上使用吗")
    assert "转接人工" in texts(replies)
    assert [b["title"] for b in replies[-1]["buttons"]] == ["转人工", "不用了"]  # type: ignore[index]
    replies = await say(engine, sender, "好的")
    assert "转接人工" in texts(replies)
    states = ConversationStates(redis_client, Keys(key_prefix))
    assert await states.get(f"rest:{sender}") is Owner.QUEUED


async def test_unknown_question_then_no_stays_with_the_bot(
    engine: TestClient, sender: str, redis_client: aioredis.Redis, key_prefix: str
) -> None:
    await say(engine, sender, "你们的产品支持在火星上使用吗")
    replies = await say(engine, sender, "不用了")
    assert "还有其他问题" in texts(replies)
    states = ConversationStates(redis_client, Keys(key_prefix))
    assert await states.get(f"rest:{sender}") is Owner.BOT
    # The offer was cleared: a later "好的" is a plain acknowledgement, not a handoff.
    await say(engine, sender, "好的")
    assert await states.get(f"rest:{sender}") is Owner.BOT


async def test_transfer_to_human_queues_and_bot_stays_silent(
    engine: TestClient, sender: str, redis_client: aioredis.Redis, key_prefix: str
) -> None:
    keys = Keys(key_prefix)
    states = ConversationStates(redis_client, keys)
    conversation = f"rest:{sender}"

    replies = await say(engine, sender, "转人工")
    assert "转接人工客服" in texts(replies)
    assert await states.get(conversation) is Owner.QUEUED

    # Further messages are held for the agent, not answered by the bot (and not lost).
    assert await say(engine, sender, "你好") == []
    assert await say(engine, sender, "退款多久到账") == []
    held = await redis_client.xrange(keys.pending_messages(conversation))
    assert [fields["text"] for _id, fields in held] == ["你好", "退款多久到账"]

    history = await states.history(conversation)
    assert [(t.previous, t.current, t.actor, t.reason) for t in history] == [
        (Owner.BOT, Owner.QUEUED, "bot", "request_human")
    ]


async def test_button_payload_requests_a_human(
    engine: TestClient, sender: str, redis_client: aioredis.Redis, key_prefix: str
) -> None:
    await say(engine, sender, "hello")
    replies = await say(engine, sender, "/request_human")
    assert "connecting you to a human" in texts(replies)  # language remembered from "hello"
    assert await ConversationStates(redis_client, Keys(key_prefix)).get(f"rest:{sender}") is Owner.QUEUED


async def test_complaint_is_acknowledged_and_handed_over(
    engine: TestClient, sender: str, redis_client: aioredis.Redis, key_prefix: str
) -> None:
    replies = await say(engine, sender, "你们服务太差了，我要投诉")
    assert "非常抱歉" in texts(replies)
    # Recorded as a case: its number and the promised times are in the reply.
    assert re.search(r"工单号 TS\d{6}。我们会在 4 小时 内联系您，48 小时 内处理完毕", texts(replies)), replies
    history = await ConversationStates(redis_client, Keys(key_prefix)).history(f"rest:{sender}")
    assert history[-1].current is Owner.QUEUED
    assert history[-1].reason == "complain"


def _scopes(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [r.scope for r in caplog.records if r.name == "bot.dialogue.agent" and hasattr(r, "scope")]


async def test_the_kb_decides_scope_and_every_decision_is_explained(
    engine: TestClient, sender: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.dialogue.agent")
    await say(engine, sender, "退款多久能到账？")
    decided = _scopes(caplog)[-1]
    assert decided["intent"] == "ask_question"
    assert decided["rule"] == "kb_answers"
    assert decided["kb_band"] == "answer"
    await say(engine, sender, "你好")
    assert _scopes(caplog)[-1]["rule"] == "social_act"


@pytest.mark.parametrize("question", ["蚂蚁的牙齿是什么颜色的？", "谁可以帮我找一个练习拼音打字的软件呢？"])
async def test_ordinary_questions_are_not_queued_for_a_human(
    engine: TestClient, sender: str, redis_client: aioredis.Redis, key_prefix: str, question: str
) -> None:
    replies = await say(engine, sender, question)
    assert replies
    assert await ConversationStates(redis_client, Keys(key_prefix)).get(f"rest:{sender}") is Owner.BOT
    assert "超出了我的服务范围" not in texts(replies), "out of scope is for the KB to decide"


async def test_language_is_remembered_for_messages_without_a_signal(engine: TestClient, sender: str) -> None:
    await say(engine, sender, "hi, is anyone there?")
    replies = await say(engine, sender, "ok")  # says nothing about language
    assert replies
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in texts(replies))
    replies = await say(engine, sender, "谢谢")  # a Chinese message switches the replies to Chinese
    assert "不客气" in texts(replies)


async def test_closed_conversation_returns_to_the_bot(
    engine: TestClient, sender: str, redis_client: aioredis.Redis, key_prefix: str
) -> None:
    states = ConversationStates(redis_client, Keys(key_prefix))
    conversation = f"rest:{sender}"
    await say(engine, sender, "转人工")
    await states.transition(conversation, Owner.AGENT, actor="agent:1", reason="accepted")
    assert await say(engine, sender, "在吗") == []
    await states.transition(conversation, Owner.CLOSED, actor="agent:1", reason="resolved")
    replies = await say(engine, sender, "你好")
    assert "您好" in texts(replies)
    assert await states.get(conversation) is Owner.BOT


async def test_two_instances_share_one_conversation_in_order(instances: Instances, sender: str) -> None:
    # Turns alternate between instances; the language set on A and the offer made on B carry over.
    a, b = instances.a, instances.b
    await say(a, sender, "hello")
    replies = await say(b, sender, "can you paint my house purple")
    assert "talk to a human" in texts(replies).lower()
    replies = await say(a, sender, "yes")
    assert "connecting you to a human" in texts(replies)
    assert await say(b, sender, "are you there?") == []
    states = ConversationStates(instances.redis, Keys(instances.prefix))
    assert await states.get(f"rest:{sender}") is Owner.QUEUED


async def test_concurrent_messages_to_two_instances_are_serialised(instances: Instances, sender: str) -> None:
    # Ten messages at once, half to each instance: every one is answered and the tracker holds all
    # ten user turns, each followed by its own bot reply (no interleaving, nothing lost).
    messages = [f"退款多久到账 {i}" for i in range(10)]
    results = await asyncio.gather(
        *(say(instances.a if i % 2 else instances.b, sender, text) for i, text in enumerate(messages))
    )
    assert all("工作日" in texts(r) for r in results)
    raw = await instances.redis.lrange(Keys(instances.prefix).dialogue_events(f"rest:{sender}"), 0, -1)
    events = [json.loads(e) for e in raw]
    turns = [e for e in events if e["event"] in ("user", "bot")]
    assert sorted(e["text"] for e in turns if e["event"] == "user") == sorted(messages)
    assert [e["event"] for e in turns] == ["user", "bot"] * 10
