"""留言 in a real browser: hours and a holiday set on the settings page send a customer to leave a message.

An agent then handles the message from the console.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient
from playwright.async_api import Page, expect

from tests.bot.test_agent_api import PASSWORD, login
from tests.bot.test_left_messages import desk  # noqa: F401  (fixture: a staffed instance)
from tests.browser.test_supervisor_console import console
from tests.chromium import assert_accessible, chromium, screenshot

NOTICE_2025 = Path(__file__).parents[1] / "data" / "holidays" / "2025-notice.txt"


async def settings_page(page: Page, base: str, name: str) -> None:
    await page.goto(base + "/settings")
    await page.fill("#username", name)
    await page.fill("#password", PASSWORD)
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#who")).to_have_text(name)
    await expect(page.locator("#nav-settings")).to_have_attribute("aria-current", "page")


async def open_all_day(page: Page, day: str) -> None:
    """Make ``day``'s first range 00:00 to midnight in the weekly grid (adding one when it is closed)."""
    row = page.locator(f'#weekly tr[data-day="{day}"]')
    if await row.locator("input[type=time]").count() == 0:
        await row.get_by_role("button", name="+ 时段").click()
    await row.locator("input[type=time]").nth(0).fill("00:00")
    await row.locator("input[type=time]").nth(1).fill("00:00")  # a closing 00:00 is midnight


async def test_a_holiday_set_in_the_settings_form_sends_customers_to_leave_a_message(
    desk: TestClient,  # noqa: F811
) -> None:
    base = str(desk.make_url("")).rstrip("/")
    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    async with chromium() as browser:
        context = await browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
        supervisor = await context.new_page()
        await settings_page(supervisor, base, "sue")
        await expect(supervisor.locator("#teams-state")).to_have_text(
            "还没有团队设置营业时间：所有团队全天营业。"
        )
        await supervisor.fill("#hours-team", "support")
        # Open around the clock every day: only the holiday below can close the team today.
        await open_all_day(supervisor, "mon")
        await supervisor.click("#copy-monday")
        for day in ("sat", "sun"):
            await open_all_day(supervisor, day)
        # The State Council's notice, imported as a file: read into the table for the supervisor to check.
        await supervisor.set_input_files("#holiday-file", str(NOTICE_2025))
        await expect(supervisor.locator("#import-result")).to_have_text(
            "读到 28 个节假日、5 个调休上班日，请检查后保存。"
        )
        spring = supervisor.locator('#holidays tr[data-date="2025-01-28"] input[type=text]')
        await expect(spring).to_have_value("春节")
        await expect(
            supervisor.locator('#special tr[data-date="2025-01-26"] input[type=time]').first
        ).to_have_value("00:00")
        # Today becomes a holiday: a row added by hand, its date and name typed in.
        await supervisor.click("#add-holiday")
        new_row = supervisor.locator("#holidays tbody tr input[type=date]:focus")
        await new_row.fill(today)
        await supervisor.locator(f'#holidays tr[data-date="{today}"] input[type=text]').fill("店庆")
        await supervisor.click("#hours-save")
        await expect(supervisor.locator("#hours-status")).to_contain_text("已保存")
        await expect(supervisor.locator("#hours-error")).to_have_text("")
        await expect(supervisor.locator("#teams-now")).to_contain_text("support: 休息中")
        await screenshot(supervisor, "settings-hours", full_page=True)
        await assert_accessible(supervisor, "settings-hours")
        await login(desk, "sue")
        stored = (await (await desk.get("/api/agent/hours")).json())["teams"]["support"]["schedule"]
        assert stored["holidays"][today] == "店庆"
        assert stored["holidays"]["2025-10-01"] == "国庆节、中秋节"
        assert stored["weekly"]["wed"] == ["00:00-24:00"]
        assert stored["special"]["2025-02-08"] == ["00:00-24:00"]

        customer = await (await browser.new_context(locale="zh-CN")).new_page()
        await customer.goto(base + "/")
        await customer.fill("#text", "转人工")
        await customer.press("#text", "Enter")
        await expect(customer.locator(".msg.bot").last).to_contain_text("非工作时间", timeout=10_000)
        await customer.fill("#text", "发票抬头写错了，<i>请改成</i>某某公司")
        await customer.press("#text", "Enter")
        await expect(customer.locator(".msg.bot").last).to_contain_text("已收到您的留言")

        agent = await console(browser, base, "ann")
        left = agent.locator("#left-list li", has_text="发票抬头写错了")
        await expect(left).to_contain_text("发票抬头写错了，<i>请改成</i>某某公司")  # shown as text
        await agent.select_option("#presence", "online")
        await left.locator("button.handle").click()
        await expect(agent.locator("#left-list li", has_text="发票抬头写错了")).to_have_count(0)
        await expect(agent.locator("#lines .line.customer").last).to_contain_text("发票抬头写错了")
        await agent.fill("#reply", "您好，发票已为您重开")
        await agent.press("#reply", "Enter")
        await expect(customer.locator(".msg.agent").last).to_have_text(
            "ann：您好，发票已为您重开", timeout=10_000
        )
        await agent.select_option("#presence", "offline")
