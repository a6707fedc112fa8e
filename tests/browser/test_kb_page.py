"""The content-staff page /kb in a real browser: log in, add, test, publish, chat, roll back."""

from __future__ import annotations

import uuid

from aiohttp.test_utils import TestClient
from playwright.async_api import Page, expect

from tests.bot.test_kb_api import PASSWORD, kb_engines, login  # noqa: F401  (session fixture)
from tests.chromium import chromium


async def ask_web_chat(page: Page, base: str, text: str) -> str:
    await page.goto(base + "/")
    await page.fill("#text", text)
    await page.press("#text", "Enter")
    bot = page.locator(".msg.bot").last
    await expect(bot).to_be_visible()
    return await bot.inner_text()


async def test_editor_adds_publishes_and_rolls_back_an_entry(
    kb_engines: tuple[TestClient, TestClient],  # noqa: F811
) -> None:
    a, b = kb_engines
    base_a = str(a.make_url("")).rstrip("/")
    base_b = str(b.make_url("")).rstrip("/")
    marker = uuid.uuid4().hex[:6]
    async with chromium() as browser:
        context = await browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
        page = await context.new_page()
        await page.goto(base_a + "/kb")
        await page.fill("#username", "editor1")
        await page.fill("#password", PASSWORD)
        await page.click("#login-form button[type=submit]")
        await expect(page.locator("#who")).to_have_text("editor1")

        await page.click("#new-entry")
        await page.fill("#f-id", f"pet_{marker}")
        await page.fill("#f-question", "可以带宠物进店吗")
        await page.fill("#f-alternatives", "宠物能进店吗\n能带狗进店吗")
        await page.fill("#f-answer", f"欢迎携带宠物，请牵好绳 <b>{marker}</b>")
        await page.click("#entry-form summary")
        await page.fill("#f-tags", "门店, 宠物")
        await page.fill("#f-buttons", "查看门店 | 门店地址")
        await page.click("#entry-form button[type=submit]")
        await expect(page.locator("#entry-result")).to_have_text("已保存")

        await page.fill("#test-question", "我能带狗进店吗")
        await page.click("#test")
        # Staff text is shown as text, never as markup.
        await expect(page.locator("#test-result")).to_contain_text(f"<b>{marker}</b>")
        assert await page.locator("#test-result b").count() == 0
        await expect(page.locator("#test-explain")).to_contain_text(f"pet_{marker}")
        await login(a)
        saved = await (await a.get(f"/api/kb/entries/zh-CN/pet_{marker}")).json()
        assert saved["tags"] == ["门店", "宠物"]
        assert saved["buttons"] == [{"title": "查看门店", "payload": "门店地址"}]

        # Synonyms are edited on the page too (they apply from the next publish).
        await page.fill("#synonyms", "宠物 = 猫咪, 狗狗")
        await page.click("#save-synonyms")
        await expect(page.locator("#synonyms-result")).to_have_text("已保存")

        await page.fill("#publish-message", "宠物政策")
        await page.click("#publish")
        await expect(page.locator("#publish-result")).to_contain_text("已发布版本")
        published = int((await page.locator("#publish-result").inner_text()).split()[-1])

        # A customer on the other instance gets the new answer through the web chat.
        chat = await context.new_page()
        assert marker in await ask_web_chat(chat, base_b, "我能带狗进店吗")
        assert marker in await ask_web_chat(chat, base_b, "猫咪可以进店吗")  # through the new synonym

        await page.locator(f"#versions button.rollback[data-version='{published - 1}']").click()
        await expect(page.locator("#publish-result")).to_contain_text(f"已发布版本 {published + 1}")
        assert marker not in await ask_web_chat(chat, base_b, "我能带狗进店吗")

        # The English switch relabels the page.
        await page.click("#lang-switch")
        await expect(page.locator("#publish")).to_have_text("Publish")
