"""Quality inspection in real browsers: Sue scores a complained-about conversation, Gus reads his review."""

from __future__ import annotations

import uuid

from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, Page, expect

from handoff.web.appkeys import QUEUE
from tests.bot.test_agent_api import PASSWORD, login, mine_once_offered
from tests.bot.test_supervise_api import desk  # noqa: F401  (fixture: a staffed instance of its own)
from tests.chromium import assert_accessible, chromium, screenshot
from tests.conftest import say


async def quality_page(browser: Browser, base: str, name: str) -> Page:
    """Open the quality page as ``name`` (zh-CN, 1280×800)."""
    context = await browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    await page.goto(base + "/agent/quality")
    await page.fill("#username", name)
    await page.fill("#password", PASSWORD)
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#who")).to_have_text(name)
    return page


async def test_an_inspector_scores_a_sample_and_the_agent_reads_it(
    desk: TestClient,  # noqa: F811
) -> None:
    base = str(desk.make_url("")).rstrip("/")
    for name in ("gus", "hal", "ivy"):
        await desk.app[QUEUE].set_status(name, "offline")
    sender = "qp-" + uuid.uuid4().hex[:6]
    conversation = f"rest:{sender}"
    await say(desk, sender, "你们发错货了，我要投诉")
    gus = await login(desk, "gus")
    await desk.post("/api/agent/status", json={"status": "online"}, headers=gus)
    assert await mine_once_offered(desk, conversation) == [conversation]
    assert (
        await desk.post("/api/agent/accept", json={"conversation": conversation}, headers=gus)
    ).status == 200
    reply = {"text": "您好，非常抱歉，马上为您补发。"}
    await desk.post(f"/api/agent/conversations/{conversation}/messages", json=reply, headers=gus)
    assert (await desk.post(f"/api/agent/conversations/{conversation}/close", headers=gus)).status == 200
    await desk.post("/api/agent/status", json={"status": "offline"}, headers=gus)

    async with chromium() as browser:
        sue = await quality_page(browser, base, "sue")
        sample = sue.locator("#samples li", has_text=conversation)
        await expect(sample).to_contain_text("投诉")
        await sample.click()
        await expect(sue.locator("#lines")).to_contain_text("马上为您补发")
        # Who spoke reads in the page's language, with the agent's name.
        await expect(sue.locator("#lines")).to_contain_text("客服 gus: 您好")
        accuracy = sue.locator("#criteria tr[data-criterion=accuracy]")
        await accuracy.locator(".points").fill("3")
        await accuracy.locator(".remark").fill("没有核实订单号")
        await sue.fill("#overall", "态度好，核实不足")
        await sue.click("#submit-score")
        # 100 - 40 × 2/5
        await expect(sue.locator("#score-result")).to_have_text("得分 84")
        await expect(sample).to_have_count(0)
        # Forms, not syntax: a checklist whose weights do not add up to 100 is refused with the reason.
        await sue.click("#add-criterion")
        row = sue.locator("#checklist tr").last
        await row.locator("input").nth(0).fill("empathy")
        await row.locator("input").nth(1).fill("共情")
        await row.locator("input").nth(2).fill("10")
        await sue.click("#save-checklist")
        await expect(sue.locator("#checklist-status")).to_contain_text("110")
        await screenshot(sue, "quality-inspector")
        await assert_accessible(sue, "quality-inspector")

        me = await quality_page(browser, base, "gus")
        await expect(me.locator("#samples-panel")).to_be_hidden()
        await expect(me.locator("#my-average")).to_contain_text("平均分 84")
        await expect(me.locator("#my-reviews")).to_contain_text("准确解答: 3/5 — 没有核实订单号")
        await screenshot(me, "quality-agent")
        await assert_accessible(me, "quality-agent")
