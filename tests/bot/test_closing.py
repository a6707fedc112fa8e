"""Closing: the optional CSAT comment, and closing a conversation whose customer went silent."""

from __future__ import annotations

import asyncio
import re
import time
import uuid

import pytest_asyncio
from aiohttp.test_utils import TestClient

from core.state import Owner
from handoff.web.appkeys import CLOSING, CSAT, STATES
from staff.accounts import Accounts
from staff.auth import ACCOUNTS
from tests.bot.test_agent_api import PASSWORD, login, mine_once_offered, staffed_support
from tests.conftest import EngineFactory, read_outbox, say, texts


@pytest_asyncio.fixture
async def desk(trained_model: object, start_engine: EngineFactory, key_prefix: str) -> TestClient:
    """A staffed instance of this test's own (Ann and Bob in support, Carl in billing, Sue supervising)."""
    client = await staffed_support(start_engine, key_prefix + "cl" + uuid.uuid4().hex[:4])
    accounts: Accounts = client.app[ACCOUNTS]
    await accounts.set_user("sue", PASSWORD, ["supervisor"])
    return client


async def with_ann(desk: TestClient, sender: str) -> dict[str, str]:
    """Queue ``sender`` for a human and have Ann accept it; return Ann's headers."""
    await say(desk, sender, "转人工")
    ann = await login(desk, "ann")
    assert (await desk.post("/api/agent/status", json={"status": "online"}, headers=ann)).status == 200
    assert f"rest:{sender}" in await mine_once_offered(desk, f"rest:{sender}")
    accepted = await desk.post("/api/agent/accept", json={"conversation": f"rest:{sender}"}, headers=ann)
    assert accepted.status == 200
    return ann


async def outbox(desk: TestClient, sender: str) -> list[dict[str, object]]:
    return await read_outbox(desk, sender)


async def test_a_rating_may_carry_an_optional_comment_that_supervisors_read(desk: TestClient) -> None:
    sender = "cm-" + uuid.uuid4().hex[:6]
    ann = await with_ann(desk, sender)
    assert (await desk.post(f"/api/agent/conversations/rest:{sender}/close", headers=ann)).status == 200
    thanks = await say(desk, sender, "非常满意")
    assert "感谢您的评价" in texts(thanks)
    assert [(b["title"], b["payload"]) for b in thanks[-1]["buttons"]] == [("写评价", "/csat_comment")]  # type: ignore[index, union-attr]
    assert "请写下您的意见" in texts(await say(desk, sender, "/csat_comment"))
    assert "已收到您的意见" in texts(await say(desk, sender, "Ann 很耐心，<b>谢谢</b>"))
    # Only one comment: the next message is the bot's again.
    assert "工作日" in texts(await say(desk, sender, "退款多久到账"))

    assert (await desk.get("/api/agent/satisfaction")).status == 403  # Ann is no supervisor
    await login(desk, "sue")
    view = await (await desk.get("/api/agent/satisfaction")).json()
    assert view["agents"]["ann"]["5"] == 1
    comment = next(c for c in view["comments"] if c["conversation"] == f"rest:{sender}")
    assert (comment["text"], comment["score"], comment["agent"]) == ("Ann 很耐心，<b>谢谢</b>", "5", "ann")


async def test_a_low_rating_opens_a_case_about_that_conversation_and_agent(desk: TestClient) -> None:
    sender = "lr-" + uuid.uuid4().hex[:6]
    ann = await with_ann(desk, sender)
    assert (await desk.post(f"/api/agent/conversations/rest:{sender}/close", headers=ann)).status == 200
    thanks = texts(await say(desk, sender, "不满意"))
    assert "感谢您的评价" in thanks
    found = re.search(r"很抱歉没能让您满意，已为您登记工单 (TS\d{6})，我们会在 4 小时 内联系您。", thanks)
    assert found, thanks
    await login(desk, "sue")
    case = await (await desk.get(f"/api/agent/complaints/{found.group(1)}")).json()
    assert (case["agent"], case["category"], case["conversations"]) == ("ann", "服务态度", [f"rest:{sender}"])
    assert case["history"][0]["actor"] == "rating"
    # A good rating opens nothing.
    happy = "hp-" + uuid.uuid4().hex[:6]
    ann = await with_ann(desk, happy)
    assert (await desk.post(f"/api/agent/conversations/rest:{happy}/close", headers=ann)).status == 200
    assert "工单" not in texts(await say(desk, happy, "满意"))


async def test_a_customer_silent_past_the_timeout_is_warned_once_then_closed(desk: TestClient) -> None:
    silent, waiting = "si-" + uuid.uuid4().hex[:6], "wa-" + uuid.uuid4().hex[:6]
    ann = await with_ann(desk, silent)
    await with_ann(desk, waiting)
    ann = await login(desk, "ann")
    asked = await desk.post(
        f"/api/agent/conversations/rest:{silent}/messages", json={"text": "请问您的订单号？"}, headers=ann
    )
    assert asked.status == 200
    # The other customer wrote last: Ann owes them the reply, so silence never closes theirs.
    assert await say(desk, waiting, "在吗？") == []
    states, now = desk.app[STATES], int(time.time() * 1000)

    assert await desk.app[CLOSING].close_silent(600, now + 60_000) == 0
    assert len(await outbox(desk, silent)) == 1  # only Ann's question so far
    for _ in range(2):  # every instance sweeps; the warning goes out once
        assert await desk.app[CLOSING].close_silent(600, now + 450_000) == 0
    warnings = [m for m in await outbox(desk, silent) if "分钟内仍未回复" in str(m["text"])]
    assert len(warnings) == 1
    assert "2 分钟" in str(warnings[0]["text"])

    assert await desk.app[CLOSING].close_silent(600, now + 601_000) == 1
    assert await states.get(f"rest:{silent}") is Owner.CLOSED
    last = (await states.history(f"rest:{silent}"))[-1]
    assert (last.actor, last.reason) == ("system", "customer silent")
    told = [str(m["text"]) for m in await outbox(desk, silent)]
    assert "长时间未回复" in told[-2]
    assert "打分" in told[-1]  # the rating prompt follows, as after an agent's close
    assert await desk.app[CLOSING].close_silent(600, now + 10_000_000) == 0  # nothing closes twice
    assert await states.get(f"rest:{waiting}") is Owner.AGENT
    me = await (await desk.get("/api/agent/me")).json()
    assert [c["conversation"] for c in me["conversations"]] == [f"rest:{waiting}"]
    await desk.post("/api/agent/status", json={"status": "offline"}, headers=ann)


async def test_a_bot_only_conversation_is_rated_after_goodbye(engine: TestClient, sender: str) -> None:
    assert "工作日" in texts(await say(engine, sender, "退款多久到账"))
    bye = await say(engine, sender, "再见")
    assert "再见" in texts(bye)
    assert "打分" in str(bye[-1]["text"])
    assert [b["title"] for b in bye[-1]["buttons"]] == ["非常满意", "满意", "一般", "不满意", "非常不满意"]  # type: ignore[union-attr]
    before = (await engine.app[CSAT].summary("agent", "bot"))["count"]
    assert "感谢您的评价" in texts(await say(engine, sender, "满意"))
    after = await engine.app[CSAT].summary("agent", "bot")
    assert after["count"] == before + 1
    # Anything else after the prompt goes to the bot as usual.
    await say(engine, sender, "再见")
    assert "工作日" in texts(await say(engine, sender, "退款多久到账"))
    assert (await engine.app[CSAT].summary("agent", "bot"))["count"] == before + 1


async def test_two_closes_at_the_same_moment_ask_for_one_rating(desk: TestClient) -> None:
    sender = "cc-" + uuid.uuid4().hex[:6]
    ann = await with_ann(desk, sender)
    path = f"/api/agent/conversations/rest:{sender}/close"
    statuses = [r.status for r in await asyncio.gather(*(desk.post(path, headers=ann) for _ in range(2)))]
    assert statuses.count(200) >= 1, statuses
    assert set(statuses) <= {200, 403}, "the later one finds the close done or the slot already freed"
    prompts = [m for m in await outbox(desk, sender) if "请为我们的服务打分" in str(m.get("text", ""))]
    assert len(prompts) == 1, prompts


async def test_the_customer_may_end_the_chat_and_is_asked_for_a_rating(desk: TestClient) -> None:
    sender = "end-" + uuid.uuid4().hex[:6]
    await with_ann(desk, sender)
    conversation = f"rest:{sender}"
    # A question that merely mentions ending is a message for Ann, not the end of the chat.
    assert await say(desk, sender, "怎么结束会员自动续费？") == []
    assert await desk.app[STATES].get(conversation) is Owner.AGENT
    ended = texts(await say(desk, sender, "结束会话"))
    assert await desk.app[STATES].get(conversation) is Owner.CLOSED
    told = texts(await outbox(desk, sender))
    assert "您已结束本次会话" in told + ended
    assert "请为我们的服务打分" in told + ended, "the rating prompt follows"
    history = await desk.app[STATES].history(conversation)
    assert (history[-1].previous, history[-1].actor, history[-1].reason) == (
        Owner.AGENT,
        "customer",
        "closed by customer",
    )
    assert "感谢您的评价" in texts(await say(desk, sender, "满意"))
    await login(desk, "sue")
    figures = (await (await desk.get("/api/reports/summary")).json())["figures"]
    assert figures["human"]["closed_by"].get("customer") == 1
