"""The admins' audit page in a real browser: who read a customer's transcript, filtered by action."""

from __future__ import annotations

import uuid

from aiohttp.test_utils import TestClient
from playwright.async_api import expect

from staff.accounts import Accounts
from staff.auth import ACCOUNTS
from tests.bot.test_agent_api import PASSWORD
from tests.bot.test_closing import desk, with_ann  # noqa: F401  (fixture: a staffed instance of its own)
from tests.chromium import assert_accessible, chromium, screenshot


async def test_an_admin_sees_who_read_a_transcript_and_narrows_the_list(
    desk: TestClient,  # noqa: F811
) -> None:
    sender = "ap-" + uuid.uuid4().hex[:6]
    conversation = f"rest:{sender}"
    ann = await with_ann(desk, sender)
    assert (await desk.get(f"/api/agent/conversations/{conversation}", headers=ann)).status == 200
    accounts: Accounts = desk.app[ACCOUNTS]
    await accounts.set_user("ada", PASSWORD, ["admin"])
    base = str(desk.make_url("")).rstrip("/")
    async with chromium() as browser:
        context = await browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
        page = await context.new_page()
        await page.goto(base + "/admin/audit")
        await page.fill("#username", "ada")
        await page.fill("#password", PASSWORD)
        await page.click("#login-form button[type=submit]")
        await expect(page.locator("#who")).to_have_text("ada")
        # Actions read as words; the stored code stays in the cell's title and the filter.
        row = page.locator("#entries tr", has_text="查看会话记录").filter(has_text=conversation)
        await expect(row).to_have_count(1)
        await expect(row).to_contain_text("ann")
        await page.fill("#f-action", "profile_viewed")
        await page.fill("#f-target", sender)
        await page.click("#filters button[type=submit]")
        await expect(page.locator("#count")).to_contain_text("0 条记录")
        await expect(page.locator("#entries-state")).to_have_text("没有符合条件的记录。")
        # A list that cannot be read says so instead of looking empty (the server answering 503).
        await page.route(
            "**/api/audit?*",
            lambda route: route.fulfill(status=503, json={"error": "服务暂时不可用"}),
        )
        await page.click("#filters button[type=submit]")
        await expect(page.locator("#entries-state")).to_have_text("列表加载失败：服务暂时不可用")
        await expect(page.locator("#entries-state")).to_have_class("state error")
        await page.unroute("**/api/audit?*")
        await page.fill("#f-action", "")
        await page.click("#filters button[type=submit]")
        await expect(page.locator("#entries tr", has_text=conversation).first).to_be_visible()
        await expect(page.locator("#entries-state")).to_be_hidden()
        await screenshot(page, "audit", full_page=True)
        await assert_accessible(page, "audit")
        await page.click("#lang-switch")
        await expect(page.locator("h1")).to_have_text("Audit log")
        await context.close()
