"""Transfer from the console and the supervisor's view, in a real browser."""

from __future__ import annotations

import asyncio
import uuid

from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, Page, expect

from handoff.web.appkeys import QUEUE
from tests.bot.test_agent_api import PASSWORD
from tests.bot.test_supervise_api import desk  # noqa: F401  (fixture: a staffed instance of its own)
from tests.chromium import assert_accessible, chromium, screenshot
from tests.conftest import say


async def log_in(page: Page, base: str, name: str) -> None:
    await page.goto(base + "/agent")
    await page.fill("#username", name)
    await page.fill("#password", PASSWORD)
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#who")).to_have_text(name)
    # Live: the socket is subscribed, so events from here on reach the page.
    await expect(page.locator("body")).to_have_attribute("data-live", "on")


async def console(browser: Browser, base: str, name: str) -> Page:
    """Open the console as ``name`` in a browser context of its own (zh-CN, 1280×800)."""
    context = await browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    await log_in(page, base, name)
    return page


async def test_an_agent_transfers_to_another_team_and_the_supervisor_sees_it_waiting(
    desk: TestClient,  # noqa: F811
) -> None:
    base = str(desk.make_url("")).rstrip("/")
    for name in ("gus", "hal", "ivy"):
        await desk.app[QUEUE].set_status(name, "offline")
    queue = desk.app[QUEUE]

    async def hal_at_work() -> None:
        while True:
            await queue.heartbeat("hal")
            await asyncio.sleep(1)

    sender = "ui-" + uuid.uuid4().hex[:6]
    replies = await say(desk, sender, "我要开发票，转人工")
    # Handed over, not answered by the KB's invoice entry: otherwise no console below can see it.
    assert await queue.ticket(f"rest:{sender}") is not None, replies
    async with chromium() as browser:
        gus = await console(browser, base, "gus")
        await expect(gus.locator("#overview")).to_be_hidden()  # agents do not get the supervisor view
        await gus.select_option("#presence", "online")
        # The offer is the server's part: when it is missing, say what the queue holds. (Hal used to
        # be online from the start: with no support agent free, routing's "anyone" step offered him the
        # ticket, and Gus saw it only once that offer lapsed after 30 s, racing the click's timeout.)
        conversation = f"rest:{sender}"
        for _ in range(100):
            if conversation in await queue.conversations_of("gus"):
                break
            await asyncio.sleep(0.1)
        else:
            state = (await queue.ticket(conversation), await queue.agent("gus"), await queue.agent("hal"))
            raise AssertionError(f"not offered to gus within 10 s: ticket, gus, hal = {state}")
        await gus.locator("#mine li", has_text="我要开发票").locator("button.accept").click()
        await expect(gus.locator("#transfer")).to_be_enabled()
        # Hal (billing) comes to work (his console's heartbeat keeps him alive), so the transfer reaches him.
        await queue.heartbeat("hal")
        await queue.set_status("hal", "online")
        beating = asyncio.create_task(hal_at_work())
        await gus.fill("#transfer-to", "billing")
        await gus.fill("#transfer-note", "发票问题，请财务跟进")
        await gus.click("#transfer")
        await expect(gus.locator("#mine li", has_text="我要开发票")).to_have_count(0)

        sue = await console(browser, base, "sue")
        await expect(sue.locator("#overview")).to_be_visible()
        await expect(sue.locator("#teams li", has_text="billing")).to_have_text("billing: 0 人排队")
        await expect(sue.locator("#agents li", has_text="Gus")).to_contain_text("0/2")
        await expect(sue.locator("#agents li", has_text="Hal")).to_contain_text("1/2")
        # The shell shows a supervisor every page their role opens, and an agent only theirs.
        await expect(sue.locator("#staff-nav a")).to_have_text(["工作台", "投诉", "质检", "报表", "设置"])
        await expect(gus.locator("#staff-nav a")).to_have_text(["工作台", "投诉", "质检"])
        await expect(sue.locator("#nav-agent")).to_have_attribute("aria-current", "page")
        await screenshot(sue, "console-supervisor")
        await assert_accessible(sue, "console-supervisor")

        # The supervisor's view on a phone: one column, nothing wider than the screen.
        phone_context = await browser.new_context(
            locale="zh-CN", viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True
        )
        phone = await phone_context.new_page()
        await log_in(phone, base, "sue")
        await expect(phone.locator("#agents li", has_text="Hal")).to_contain_text("1/2")
        box = await phone.locator("#overview").bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= 375
        assert await phone.evaluate("document.documentElement.scrollWidth") <= 375, "no sideways scrolling"
        # An agent going offline shows up without a reload (at the latest at the page's 5-second refresh).
        await queue.set_status("gus", "offline")
        await expect(phone.locator("#agents li", has_text="Gus")).to_contain_text("离线", timeout=12_000)
        await screenshot(phone, "console-supervisor-phone", full_page=True)
        await assert_accessible(phone, "console-supervisor-phone")
    beating.cancel()
    ticket = await desk.app[QUEUE].ticket(f"rest:{sender}")
    assert ticket is not None
    assert (ticket.agent, ticket.team) == ("hal", "billing")
    for name in ("gus", "hal"):
        await desk.app[QUEUE].set_status(name, "offline")
