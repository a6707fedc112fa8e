"""Routing settings in a real browser: a supervisor changes them in a form, with checks, and they apply."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from playwright.async_api import expect

from handoff.web.appkeys import QUEUE, SERVICE
from tests.bot.test_left_messages import desk  # noqa: F401  (fixture: a staffed instance)
from tests.browser.test_left_messages_console import settings_page
from tests.chromium import assert_accessible, chromium, screenshot


async def test_a_supervisor_sets_auto_assign_and_timeouts_in_the_form(
    desk: TestClient,  # noqa: F811
) -> None:
    base = str(desk.make_url("")).rstrip("/")
    async with chromium() as browser:
        context = await browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
        page = await context.new_page()
        await settings_page(page, base, "sue")
        await expect(page.locator("#routing-changed")).to_have_text("当前使用部署时的默认设置。")
        await expect(page.locator("#offer-timeout")).to_have_value("30")
        support = page.get_by_role("checkbox", name="support")
        await expect(support).not_to_be_checked()
        # A typo is named before anything is sent, and nothing changes.
        await page.fill("#offer-timeout", "2")
        await page.click("#routing-save")
        await expect(page.locator("#routing-error")).to_contain_text("派单后等待客服接受")
        await expect(page.locator("#offer-timeout")).to_have_attribute("aria-invalid", "true")
        assert desk.app[QUEUE].settings.offer_timeout_seconds == 30
        await page.fill("#offer-timeout", "60")
        await page.fill("#kb-misses", "0")
        await page.fill("#boost-new", "45")
        await support.check()
        await page.fill("#auto-add", "vip-desk")
        await page.click("#auto-add-button")
        await expect(page.get_by_role("checkbox", name="vip-desk")).to_be_checked()
        await expect(page.locator("#offer-timeout")).to_have_value("60")  # adding a team keeps what was typed
        await page.click("#routing-save")
        await expect(page.locator("#routing-status")).to_have_text("已保存，立即生效")
        await expect(page.locator("#routing-error")).to_have_text("")
        await expect(page.locator("#routing-changed")).to_contain_text("最后由 sue 于")
        settings = desk.app[QUEUE].settings
        assert settings.auto_assign_teams == {"support", "vip-desk"}
        assert settings.offer_timeout_seconds == 60
        assert settings.tier_boost_seconds["new"] == 45
        assert desk.app[SERVICE].kb_misses_to_handoff == 0
        # What was saved is what the page shows after a reload.
        await page.reload()
        await expect(page.locator("#offer-timeout")).to_have_value("60")
        await expect(page.get_by_role("checkbox", name="vip-desk")).to_be_checked()
        await expect(page.locator("#offer-timeout + .default")).to_have_text("默认 30")
        await screenshot(page, "settings-routing", full_page=True)
        await assert_accessible(page, "settings-routing")
        await page.click("#routing-reset")
        await expect(page.locator("#routing-status")).to_have_text("已恢复默认")
        await expect(page.locator("#offer-timeout")).to_have_value("30")
        assert desk.app[QUEUE].settings.auto_assign_teams == frozenset()
        # English, for the rest of this supervisor's session.
        await page.click("#lang-switch")
        await expect(page.locator("#routing-title")).to_have_text("Handoff and assignment")
        await expect(page.locator("#routing-changed")).to_have_text("The deployment's defaults are in force.")
