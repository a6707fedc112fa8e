"""Two agents in real browsers: a VIP goes to their dedicated agent while a regular customer waits."""

from __future__ import annotations

import uuid

import pytest_asyncio
from aiohttp.test_utils import TestClient
from playwright.async_api import expect

from handoff.web.appkeys import PROFILES, QUEUE
from tests.bot.test_agent_api import staffed_support
from tests.browser.test_supervisor_console import console
from tests.chromium import chromium
from tests.conftest import EngineFactory, say, texts


@pytest_asyncio.fixture
async def desk(trained_model: object, start_engine: EngineFactory, key_prefix: str) -> TestClient:
    """Ann and Bob in support (Bob takes one conversation at a time), on a queue of their own."""
    client = await staffed_support(start_engine, key_prefix + "vp" + uuid.uuid4().hex[:4])
    await client.app[QUEUE].upsert_agent("bob", "Bob", ["support"], capacity=1)
    return client


async def test_a_vip_goes_to_their_dedicated_agent_while_a_regular_waits(desk: TestClient) -> None:
    base = str(desk.make_url("")).rstrip("/")
    regular, vip = "reg-" + uuid.uuid4().hex[:6], "vip-" + uuid.uuid4().hex[:6]
    profiles = desk.app[PROFILES]
    plain = await profiles.seen(f"rest:{regular}", f"rest:{regular}")
    await profiles.update(plain.id, "test", {"tier": "regular"})
    star = await profiles.seen(f"rest:{vip}", f"rest:{vip}")
    await profiles.update(star.id, "test", {"tier": "vip", "dedicated_agent": "bob"})
    # The regular customer asks first; the VIP a moment later.
    assert "排在第 1 位" in texts(await say(desk, regular, "转人工"))
    await say(desk, vip, "转人工")

    async with chromium() as browser:
        bob = await console(browser, base, "bob")
        await bob.select_option("#presence", "online")
        # Bob's one slot goes to his own VIP customer, though the regular customer asked first.
        await expect(bob.locator("#mine li")).to_have_count(1)
        await expect(bob.locator("#mine li .vip")).to_have_text("VIP")
        await expect(bob.locator("#queue li")).to_have_count(1)
        await expect(bob.locator("#queue li")).to_contain_text("REGULAR")
        await bob.locator("#mine li button.accept").click()
        await expect(bob.locator("#mine li")).to_contain_text("处理中")

        ann = await console(browser, base, "ann")
        await ann.select_option("#presence", "online")
        await expect(ann.locator("#mine li")).to_have_count(1)
        await expect(ann.locator("#mine li")).to_contain_text("REGULAR")
        await expect(bob.locator("#queue li")).to_have_count(0, timeout=10_000)
        for page in (ann, bob):
            await page.select_option("#presence", "offline")
