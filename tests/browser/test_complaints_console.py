"""Complaint cases end to end in real browsers: the customer in the web chat, the agent on the cases page.

A customer complains → the reply carries the case number → Gus takes and resolves it on the cases page →
the customer taps 未解决 (reopened to Gus) → resolved again → the customer taps 已解决 → confirmed. Then a
case left alone escalates to the supervisor, and her page shows it as it happens.
"""

from __future__ import annotations

import re
import uuid

from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, Page, expect

from bot.appkeys import SETTINGS
from handoff.complaints import Complaints, escalate_due
from handoff.web.appkeys import QUEUE, SERVICE
from tests.bot.test_agent_api import PASSWORD, login, mine_once_offered
from tests.bot.test_supervise_api import desk  # noqa: F401  (fixture: a staffed instance of its own)
from tests.browser.test_supervisor_console import console
from tests.chromium import assert_accessible, chromium, screenshot
from tests.conftest import say


async def cases_page(browser: Browser, base: str, name: str) -> Page:
    """Open the cases page as ``name`` in a browser context of its own (zh-CN, 1280×800)."""
    context = await browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    await page.goto(base + "/agent/complaints")
    await page.fill("#username", name)
    await page.fill("#password", PASSWORD)
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#who")).to_have_text(name)
    # Live: the socket is subscribed, so events from here on reach the page.
    await expect(page.locator("body")).to_have_attribute("data-live", "on")
    return page


async def customer_says(page: Page, text: str) -> None:
    await page.fill("#text", text)
    await page.press("#text", "Enter")


async def test_a_complaint_is_worked_resolved_reopened_and_confirmed_by_the_customer(
    desk: TestClient,  # noqa: F811
) -> None:
    base = str(desk.make_url("")).rstrip("/")
    async with chromium() as browser:
        customer = await (await browser.new_context(locale="zh-CN")).new_page()
        await customer.goto(base + "/")
        await customer_says(customer, "快递一周了还没到，我要投诉")
        reply = customer.locator(".msg.bot", has_text="工单号")
        await expect(reply).to_have_count(1)
        found = re.search(r"TS\d{6}", await reply.inner_text())
        assert found
        case_id = found.group(0)

        gus = await cases_page(browser, base, "gus")
        row = gus.locator(f"#cases tr[data-case={case_id}]")
        await expect(row).to_contain_text("待处理")
        await expect(row.locator(".countdown")).to_contain_text("剩余")
        await row.click()
        await expect(gus.locator("#case-title")).to_have_text(f"{case_id} · 待处理")
        await expect(gus.locator("#lines")).to_contain_text("我要投诉")
        await gus.click("#take")
        await expect(gus.locator("#case-title")).to_have_text(f"{case_id} · 处理中")
        await gus.fill("#note", "已联系快递公司")
        await gus.click("#add-note")
        await expect(gus.locator("#history")).to_contain_text("已联系快递公司")
        await gus.fill("#resolve-detail", "已补发，顺丰单号 SF1001")
        await gus.click("#resolve")
        await expect(gus.locator("#case-title")).to_have_text(f"{case_id} · 待客户确认")
        await screenshot(gus, "complaints-agent")
        await assert_accessible(gus, "complaints-agent")

        question = customer.locator(".msg.bot", has_text="已补发，顺丰单号 SF1001")
        await expect(question).to_have_count(1, timeout=10_000)
        await question.locator("button", has_text="未解决").click()
        await expect(customer.locator(".msg.bot", has_text="已重新打开")).to_have_count(1)
        await expect(gus.locator("#case-title")).to_have_text(f"{case_id} · 已重新打开", timeout=10_000)

        await gus.fill("#resolve-detail", "已退款 199 元")
        await gus.click("#resolve")
        await expect(gus.locator("#case-title")).to_have_text(f"{case_id} · 待客户确认")
        again = customer.locator(".msg.bot", has_text="已退款 199 元")
        await expect(again).to_have_count(1, timeout=10_000)
        await again.locator("button", has_text="已解决").click()
        await expect(customer.locator(".msg.bot", has_text="已关闭")).to_have_count(1)
        await screenshot(customer, "complaints-customer")
        await assert_accessible(customer, "complaints-customer")
        # Confirmed cases leave the list of unfinished work.
        await expect(row).to_have_count(0, timeout=10_000)

    cases = desk.app[SERVICE].complaints
    assert cases is not None
    confirmed = await cases.get(case_id)
    assert confirmed is not None
    assert confirmed.status.value == "confirmed"


async def test_a_case_left_alone_escalates_to_the_supervisor_who_sees_it_live(
    desk: TestClient,  # noqa: F811
) -> None:
    base = str(desk.make_url("")).rstrip("/")
    cases = desk.app[SERVICE].complaints
    assert cases is not None
    conversation = "rest:esc-" + uuid.uuid4().hex[:6]
    case, _ = await cases.open(
        "p-esc", conversation, "退款迟迟不到账", channel="rest", team="support", actor="bot", severity="紧急"
    )
    async with chromium() as browser:
        sue = await cases_page(browser, base, "sue")
        row = sue.locator(f"#cases tr[data-case={case.id}]")
        await expect(row).to_contain_text("剩余")
        # Time passes on an injected clock: past the 4-hour deadline of 紧急 (sweep as the engine does).
        prefix = desk.app[SETTINGS].redis_prefix
        late = Complaints(cases.redis, prefix, cases.policy, clock=lambda: case.opened_at + 4 * 3600 + 60)
        assert await escalate_due(late) == 1
        await expect(sue.locator("#toast")).to_contain_text(f"{case.id} 已升级：即将超时")
        assert await escalate_due(late) == 1
        await expect(sue.locator("#toast")).to_contain_text(f"{case.id} 已升级：已超时")
        await row.click()
        await expect(sue.locator("#history li[data-action='escalated:overdue']")).to_contain_text("已超时")
        await screenshot(sue, "complaints-supervisor")
        await assert_accessible(sue, "complaints-supervisor")


async def test_an_agent_records_a_complaint_from_the_conversation_they_hold(
    desk: TestClient,  # noqa: F811
) -> None:
    base = str(desk.make_url("")).rstrip("/")
    queue = desk.app[QUEUE]
    for name in ("gus", "hal", "ivy"):
        await queue.set_status(name, "offline")
    sender = "cf-" + uuid.uuid4().hex[:6]
    conversation = f"rest:{sender}"
    await say(desk, sender, "转人工")
    gus = await login(desk, "gus")
    await desk.post("/api/agent/status", json={"status": "online"}, headers=gus)
    assert await mine_once_offered(desk, conversation) == [conversation]
    accepted = await desk.post("/api/agent/accept", json={"conversation": conversation}, headers=gus)
    assert accepted.status == 200
    async with chromium() as browser:
        page = await console(browser, base, "gus")
        await page.locator("#mine li", has_text="rest").first.click()
        await expect(page.locator("#complaint-open")).to_be_enabled()
        await page.select_option("#complaint-category", "质量")
        await page.select_option("#complaint-severity", "严重")
        await page.fill("#complaint-description", "收到的杯子有裂纹")
        await page.click("#complaint-open")
        status = page.locator("#complaint-status")
        await expect(status).to_contain_text("已登记工单 TS")
        case_id = (await status.inner_text()).split()[-1]
        await page.click("#nav-complaints")
        row = page.locator(f"#cases tr[data-case={case_id}]")
        await expect(row).to_contain_text("质量")
        await expect(row).to_contain_text("严重")
    await desk.post(f"/api/agent/conversations/{conversation}/close", headers=gus)
