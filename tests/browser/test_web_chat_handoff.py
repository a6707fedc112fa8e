"""A customer in the web chat asks for a human; an agent accepts and replies; the page shows it."""

from __future__ import annotations

import asyncio
import uuid

import pytest_asyncio
from aiohttp.test_utils import TestClient
from playwright.async_api import expect

from handoff.web.appkeys import QUEUE
from tests.bot.test_agent_api import login, mine_once_offered, staffed_support
from tests.chromium import chromium
from tests.conftest import EngineFactory


@pytest_asyncio.fixture
async def own_desk(trained_model: object, start_engine: EngineFactory, key_prefix: str) -> TestClient:
    """A staffed instance of this test's own: other tests' leftover work cannot fill Bob's slots."""
    return await staffed_support(start_engine, key_prefix + "wh" + uuid.uuid4().hex[:4])


async def test_agent_reply_reaches_the_web_chat(own_desk: TestClient) -> None:
    engine = own_desk
    for name in ("ann", "bob", "carl"):  # only Bob will be online: the conversation must reach him
        await engine.app[QUEUE].set_status(name, "offline")
    async with chromium() as browser:
        page = await (await browser.new_context(locale="zh-CN")).new_page()
        await page.goto(str(engine.make_url("/")))
        await page.fill("#text", "转人工")
        await page.press("#text", "Enter")
        await expect(page.locator(".msg.bot", has_text="正在为您转接人工客服")).to_have_count(1)
        sender = await page.evaluate("localStorage.getItem('cs-visitor')")
        conversation = f"rest:{sender}"

        headers = await login(engine, "bob")
        await engine.post("/api/agent/status", json={"status": "online"}, headers=headers)
        assert await mine_once_offered(engine, conversation) == [conversation]
        accepted = await engine.post(
            "/api/agent/accept", json={"conversation": conversation}, headers=headers
        )
        assert accepted.status == 200, await accepted.text()
        reply = "您好，我是 Bob，<i>请问</i>有什么可以帮您？"
        sent = await engine.post(
            f"/api/agent/conversations/{conversation}/messages", json={"text": reply}, headers=headers
        )
        assert sent.status == 200
        await expect(page.locator(".msg.agent").last).to_have_text(f"bob：{reply}", timeout=10_000)
        assert await page.locator(".msg i").count() == 0

        # The customer's answer goes to Bob, not to the bot.
        await page.fill("#text", "我的订单一直没到")
        await page.press("#text", "Enter")
        for _ in range(50):
            transcript = await (await engine.get(f"/api/agent/conversations/{conversation}")).json()
            if ("customer", "我的订单一直没到") in [(x["role"], x["text"]) for x in transcript["lines"]]:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the customer's message did not reach the transcript")
        assert transcript["lines"][-1]["role"] == "customer"
        await engine.post(f"/api/agent/conversations/{conversation}/close", headers=headers)
        await engine.post("/api/agent/status", json={"status": "offline"}, headers=headers)
