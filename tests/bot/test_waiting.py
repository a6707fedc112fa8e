"""While waiting: the engine's sweeper tells a customer when they move up, through their channel."""

from __future__ import annotations

import asyncio
import uuid

import pytest_asyncio
from aiohttp.test_utils import TestClient

from core.state import Owner
from handoff.web.appkeys import STATES
from tests.bot.test_agent_api import login, staffed_support
from tests.conftest import EngineFactory, read_outbox, say, texts


@pytest_asyncio.fixture
async def desk(trained_model: object, start_engine: EngineFactory, key_prefix: str) -> TestClient:
    return await staffed_support(start_engine, key_prefix + "wt" + uuid.uuid4().hex[:4])


async def outbox_texts(desk: TestClient, sender: str) -> list[str]:
    return [str(m["text"]) for m in await read_outbox(desk, sender)]


async def test_the_third_in_line_hears_they_are_next_when_two_are_placed(desk: TestClient) -> None:
    senders = [f"w{i}-{uuid.uuid4().hex[:6]}" for i in range(3)]
    replies = [texts(await say(desk, sender, "转人工")) for sender in senders]
    assert "排在第 3 位" in replies[2]
    ann = await login(desk, "ann")  # capacity 2: the first two are offered to her
    await desk.post("/api/agent/status", json={"status": "online"}, headers=ann)
    told: list[str] = []
    for _ in range(150):  # the sweeper tells within a few seconds
        told = await outbox_texts(desk, senders[2])
        if told:
            break
        await asyncio.sleep(0.1)
    assert told == ["您是下一位，客服马上为您服务。"]
    # The two placed customers are not told about a queue they have left.
    assert await outbox_texts(desk, senders[0]) == []
    await desk.post("/api/agent/status", json={"status": "offline"}, headers=ann)


@pytest_asyncio.fixture
async def auto_desk(trained_model: object, start_engine: EngineFactory, key_prefix: str) -> TestClient:
    """An instance whose support team is assigned without asking."""
    prefix = key_prefix + "aa" + uuid.uuid4().hex[:4]
    return await staffed_support(start_engine, prefix, handoff_auto_assign_teams=frozenset({"support"}))


async def test_an_auto_assign_team_gets_conversations_without_accepting(auto_desk: TestClient) -> None:
    sender = "aa-" + uuid.uuid4().hex[:6]
    ann = await login(auto_desk, "ann")
    await auto_desk.post("/api/agent/status", json={"status": "online"}, headers=ann)
    await say(auto_desk, sender, "转人工")
    me = await (await auto_desk.get("/api/agent/me")).json()
    assert [(c["conversation"], c["status"]) for c in me["conversations"]] == [(f"rest:{sender}", "assigned")]
    assert await auto_desk.app[STATES].get(f"rest:{sender}") is Owner.AGENT
    sent = await auto_desk.post(
        f"/api/agent/conversations/rest:{sender}/messages", json={"text": "您好"}, headers=ann
    )
    assert sent.status == 200
    await auto_desk.post("/api/agent/status", json={"status": "offline"}, headers=ann)
