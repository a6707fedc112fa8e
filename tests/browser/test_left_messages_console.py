"""留言 in a real browser: out of hours a customer leaves a message; an agent handles it from the console."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from playwright.async_api import expect

from tests.bot.test_left_messages import CLOSED_ALL_WEEK, desk  # noqa: F401  (fixture: a staffed instance)
from tests.browser.test_supervisor_console import console, log_in
from tests.chromium import chromium


async def test_a_message_left_out_of_hours_is_handled_from_the_console(desk: TestClient) -> None:  # noqa: F811
    base = str(desk.make_url("")).rstrip("/")
    async with chromium() as browser:
        supervisor = await (await browser.new_context(locale="zh-CN")).new_page()
        await log_in(supervisor, base, "sue")
        # The supervisor closes support all week in the hours editor.
        await supervisor.fill("#hours-team", "support")
        await supervisor.fill("#hours-json", '{"timezone": "Asia/Shanghai", "weekly": {}}')
        await supervisor.click("#hours-save")
        await expect(supervisor.locator("#hours-status")).to_contain_text("已保存")
        await expect(supervisor.locator("#chat-error")).to_have_text("")

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
