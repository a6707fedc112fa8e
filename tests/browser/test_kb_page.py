"""The content-staff page /kb in a real browser: log in, add, test, publish, chat, roll back."""

from __future__ import annotations

import uuid

from aiohttp.test_utils import TestClient
from playwright.async_api import Page, expect

from tests.bot.test_kb_api import PASSWORD, kb_engines, login  # noqa: F401  (session fixture)
from tests.chromium import assert_accessible, chromium, screenshot


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
        await page.fill("#f-channel-answers", "wechat: 欢迎携带宠物，点“查看门店”找最近的店")
        # The preview shows each channel's message as its adapter would send it, buttons included.
        wechat = page.get_by_role("figure", name="微信公众号")
        await expect(wechat).to_contain_text("欢迎携带宠物，点“查看门店”找最近的店")
        await expect(wechat.locator("ol.buttons.lines li")).to_have_text(["查看门店"])
        telegram = page.get_by_role("figure", name="Telegram")
        await expect(telegram).to_contain_text(f"欢迎携带宠物，请牵好绳 <b>{marker}</b>")
        await expect(telegram.locator(".buttons.keyboard .button")).to_have_text(["查看门店"])
        await expect(
            page.get_by_role("figure", name="网页聊天").locator(".buttons.chips .button")
        ).to_have_text(["查看门店"])
        assert await page.locator("#preview b").count() == 0, "answers are shown as text, never markup"
        await page.click("#entry-form button[type=submit]")
        await expect(page.locator("#entry-result")).to_have_text("已保存")

        await page.fill("#test-question", "我能带狗进店吗")
        await page.click("#test")
        # Staff text is shown as text, never as markup.
        await expect(page.locator("#test-result")).to_contain_text(f"<b>{marker}</b>")
        assert await page.locator("#test-result b").count() == 0
        await expect(page.locator("#test-explain")).to_contain_text(f"pet_{marker}")
        await screenshot(page, "kb", full_page=True)
        await assert_accessible(page, "kb")
        await login(a)
        saved = await (await a.get(f"/api/kb/entries/zh-CN/pet_{marker}")).json()
        assert saved["tags"] == ["门店", "宠物"]
        assert saved["buttons"] == [{"title": "查看门店", "payload": "门店地址"}]

        # Synonyms are rows on the page (they apply from the next publish).
        await page.click("#add-synonym")
        await page.locator("#synonyms-table tbody tr").last.locator("input").nth(0).fill("宠物")
        await page.locator("#synonyms-table tbody tr").last.locator("input").nth(1).fill("猫咪，狗狗")
        await page.click("#save-synonyms")
        await expect(page.locator("#synonyms-result")).to_have_text("已保存")
        await login(a)
        assert (await (await a.get("/api/kb/synonyms")).json())["synonyms"]["宠物"] == ["猫咪", "狗狗"]

        # A golden question from the table: the expected entry is picked in the search box (not typed
        # syntax); an id that is no entry is refused before anything is saved.
        await expect(page.locator("#golden-empty")).to_be_visible()
        await page.fill("#golden-question", "我能带狗进店吗")
        await page.fill("#golden-expected", "no_such_entry")
        await page.click("#golden-save")
        await expect(page.locator("#golden-result")).to_have_text("请从列表中选一个条目，或勾选“应转人工”。")
        await expect(page.locator(f"#entry-choices option[value='pet_{marker}']")).to_have_count(1)
        await page.fill("#golden-expected", f"pet_{marker}")
        await page.click("#golden-save")
        await expect(page.locator("#golden-result")).to_have_text("已保存")
        await expect(page.locator("#golden-table tbody tr")).to_have_count(1)
        await expect(page.locator("#golden-table tbody tr")).to_contain_text(f"pet_{marker}")

        await page.fill("#publish-message", "宠物政策")
        await page.click("#publish")
        await expect(page.locator("#publish-result")).to_contain_text("已发布版本")
        published = int((await page.locator("#publish-result").inner_text()).split()[-1])

        # A draft that breaks the golden question (the entry switched off) is refused, and the report
        # says which question now gets what.
        await page.locator("#entries li", has_text=f"pet_{marker}").click()
        await page.uncheck("#f-enabled")
        await page.click("#entry-form button[type=submit]")
        await expect(page.locator("#entry-result")).to_have_text("已保存")
        await page.click("#publish")
        await expect(page.locator("#publish-report")).to_be_visible()
        await expect(page.locator("#publish-report tbody tr")).to_have_text(
            [f"我能带狗进店吗pet_{marker}应转人工转人工/不知道"]
        )
        await screenshot(page, "kb-publish-refused", full_page=True)
        await assert_accessible(page, "kb-publish-refused")
        await page.check("#f-enabled")
        await page.click("#entry-form button[type=submit]")
        await expect(page.locator("#entry-result")).to_have_text("已保存")

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


async def test_editor_switches_off_moves_and_deletes_entries_in_bulk(
    kb_engines: tuple[TestClient, TestClient],  # noqa: F811
) -> None:
    a, _ = kb_engines
    marker = uuid.uuid4().hex[:6]
    headers = await login(a)
    # The language is the user's own: another test may have left editor1 on English.
    assert (await a.put("/api/session/language", json={"language": "zh"}, headers=headers)).status == 200
    for i in range(3):
        body = {"id": f"sale_{marker}_{i}", "question": f"双十一活动{marker}第{i}条", "answer": "见活动页"}
        assert (await a.post("/api/kb/entries", json=body, headers=headers)).status == 200
    async with chromium() as browser:
        context = await browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
        page = await context.new_page()
        await page.goto(str(a.make_url("/kb")))
        await page.fill("#username", "editor1")
        await page.fill("#password", PASSWORD)
        await page.click("#login-form button[type=submit]")
        await page.fill("#search", marker)
        await expect(page.locator("#entries li")).to_have_count(3)
        await expect(page.locator("#bulk-enable")).to_be_disabled()
        await page.check("#select-all")
        await expect(page.locator("#bulk-count")).to_have_text("已选 3 条")
        await page.get_by_role("checkbox", name=f"选择 双十一活动{marker}第2条 (sale_{marker}_2)").uncheck()
        await page.click("#bulk-disable")
        await expect(page.locator("#bulk-result")).to_have_text("已修改 2 条（发布后生效）")
        await expect(page.locator("#entries li", has_text=" · off")).to_have_count(2)
        await page.click("#bulk-set-category")
        await expect(page.locator("#bulk-result")).to_have_text("请先填写分类。")
        await page.fill("#bulk-category", "促销")
        await page.click("#bulk-set-category")
        await expect(page.locator("#bulk-result")).to_have_text("已修改 2 条（发布后生效）")
        await assert_accessible(page, "kb-bulk")
        page.once("dialog", lambda dialog: dialog.accept())
        await page.click("#bulk-delete")
        await expect(page.locator("#entries li")).to_have_count(1)
        await expect(page.locator("#bulk-count")).to_have_text("")
    await login(a)
    kept = await (await a.get(f"/api/kb/entries/zh-CN/sale_{marker}_2")).json()
    assert kept["enabled"] is True
    assert "category" not in kept
    assert (await a.get(f"/api/kb/entries/zh-CN/sale_{marker}_0")).status == 404
