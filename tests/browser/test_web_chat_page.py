"""The minimal web chat at `/`, in a real browser (Debian chromium driven by Playwright)."""

from __future__ import annotations

import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from playwright.async_api import expect

from core.keys import Keys
from core.state import ConversationStates, Owner
from tests.chromium import assert_accessible, chromium, screenshot


async def test_chat_with_the_bot_and_ask_for_a_human(
    engine: TestClient, redis_client: aioredis.Redis, key_prefix: str
) -> None:
    base = str(engine.make_url("/"))
    async with chromium() as browser:
        context = await browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
        page = await context.new_page()
        await page.goto(base)
        await expect(page.locator("#send")).to_have_text("发送")

        await page.fill("#text", "你好")
        await page.press("#text", "Enter")
        await expect(page.locator(".msg.bot").last).to_contain_text("您好")

        # Customer text is shown as text, never interpreted as HTML.
        await page.fill("#text", '<img src=x onerror="document.title=1">退款多久到账')
        await page.click("#send")
        await expect(page.locator(".msg.me").last).to_have_text(
            '<img src=x onerror="document.title=1">退款多久到账'
        )
        # Mostly-unknown words make the matcher unsure: it suggests the question as a button, and
        # clicking the suggestion gets the answer.
        await expect(page.locator(".msg.bot").last).to_contain_text("您是不是想问")
        assert await page.locator(".msg img").count() == 0
        await page.locator(".msg.bot .buttons button", has_text="退款多久到账").last.click()
        await expect(page.locator(".msg.bot").last).to_contain_text("工作日")
        await screenshot(page, "web-chat")
        await assert_accessible(page, "web-chat")

        await page.fill("#text", "你们能帮我修自行车吗")
        await page.click("#send")
        await page.locator(".msg.bot .buttons button", has_text="转人工").last.click()
        # The confirmation, then the place in the queue with an expected wait.
        await expect(page.locator(".msg.bot").last).to_contain_text("预计等待")
        await expect(page.locator(".msg.bot", has_text="正在为您转接人工客服")).to_have_count(1)

        visitor = await page.evaluate("localStorage.getItem('cs-visitor')")
        states = ConversationStates(redis_client, Keys(key_prefix))
        assert await states.get(f"rest:{visitor}") is Owner.QUEUED
        await context.close()


async def test_page_switches_to_english_for_english_browsers(engine: TestClient) -> None:
    async with chromium() as browser:
        context = await browser.new_context(locale="en-US")
        page = await context.new_page()
        await page.goto(str(engine.make_url("/")))
        await expect(page.locator("#send")).to_have_text("Send")
        await page.fill("#text", "hello")
        await page.press("#text", "Enter")
        await expect(page.locator(".msg.bot").last).to_contain_text("Hello")
        await context.close()
