"""The supervisor dashboard in a real browser: live cards, the period's figures, charts that draw."""

from __future__ import annotations

import uuid
from pathlib import Path

from aiohttp.test_utils import TestClient
from playwright.async_api import expect

from handoff.web.appkeys import QUEUE
from tests.bot.test_agent_api import PASSWORD, login, mine_once_offered
from tests.bot.test_supervise_api import desk  # noqa: F401  (fixture: a staffed instance of its own)
from tests.chromium import assert_accessible, chromium, screenshot
from tests.conftest import say

# Non-white pixels in a chart's canvas: a drawn chart has axes, bars and lines.
INK = """(el) => {
  const canvas = el.querySelector("canvas");
  if (!canvas) return 0;
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let ink = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] > 0 && data[i] + data[i + 1] + data[i + 2] < 700) ink++;
  }
  return ink;
}"""


async def test_the_dashboard_shows_live_figures_and_draws_its_charts(
    desk: TestClient,  # noqa: F811
    tmp_path: Path,
) -> None:
    base = str(desk.make_url("")).rstrip("/")
    for name in ("gus", "hal", "ivy"):
        await desk.app[QUEUE].set_status(name, "offline")
    await say(desk, "db-a-" + uuid.uuid4().hex[:6], "退款多久到账")
    waiting = "db-b-" + uuid.uuid4().hex[:6]
    await say(desk, waiting, "转人工")
    async with chromium() as browser:
        context = await browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
        page = await context.new_page()
        await page.goto(base + "/reports")
        await page.fill("#username", "sue")
        await page.fill("#password", PASSWORD)
        await page.click("#login-form button[type=submit]")
        await expect(page.locator("#who")).to_have_text("sue")
        await expect(page.locator("#live .card", has_text="排队中")).to_contain_text("1")
        conversations = page.locator("#summary .card", has_text="会话量")
        await expect(conversations.locator(".value")).to_have_text("2")
        await expect(conversations).to_contain_text("上期 0")
        for chart in ("volume", "frt", "csat", "containment", "cost", "heat"):
            element = page.locator(f"#chart-{chart}")
            await expect(element.locator("canvas").first).to_be_visible()
            assert await element.evaluate(INK) > 200, f"the {chart} chart drew nothing"
        volume = "echarts.getInstanceByDom(document.getElementById('chart-volume'))"
        points = await page.evaluate(f"{volume}.getOption().series[0].data")
        assert len(points) == 14
        assert points[-1] == 2, "today's two conversations"
        await expect(page.locator("#scorecards tr", has_text="Gus")).to_contain_text("团队中位数")
        heat = "echarts.getInstanceByDom(document.getElementById('chart-heat'))"
        cells = await page.evaluate(f"{heat}.getOption().series[0].data")
        assert sum(cell[2] for cell in cells) == 2, "the two customer messages, in their weekday and hour"
        # Drill down: a click on today's bar lists today's two conversations, user ids masked.
        x, y = await page.evaluate(f"{volume}.convertToPixel({{seriesIndex: 0}}, [13, 1])")
        box = await page.locator("#chart-volume").bounding_box()
        assert box is not None
        await page.mouse.click(box["x"] + x, box["y"] + y)
        await expect(page.locator("#drill-title")).to_contain_text("· 2")
        await expect(page.locator("#drill-rows tr")).to_have_count(2)
        # Columns read as staff name them, not as the export's field names.
        await expect(page.locator("#drill-head th").first).to_have_text("会话")
        await expect(page.locator("#drill-head")).to_contain_text("转人工原因")
        await expect(page.locator("#drill-state")).to_be_hidden()
        assert "db-a-" not in await page.locator("#drill-rows").inner_text()
        # The exports are plain links for the chosen period: what the browser saves is the API's file.
        async with page.expect_download() as caught:
            await page.click("#export-conversations-csv")
        download = await caught.value
        assert download.suggested_filename.startswith("conversations-")
        assert download.suggested_filename.endswith(".csv")
        saved = tmp_path / "conversations.csv"
        await download.save_as(saved)
        lines = saved.read_bytes().decode("utf-8-sig").splitlines()
        assert len(lines) == 3, "a header and today's two conversations"
        async with page.expect_download() as caught:
            await page.click("#export-scorecards-xlsx")
        assert (await caught.value).suggested_filename.startswith("scorecards-")
        # Drill-down from a scorecard: Gus takes the waiting conversation; his row lists it, masked.
        gus = await login(desk, "gus")
        await desk.post("/api/agent/status", json={"status": "online"}, headers=gus)
        assert await mine_once_offered(desk, f"rest:{waiting}") == [f"rest:{waiting}"]
        accepted = await desk.post("/api/agent/accept", json={"conversation": f"rest:{waiting}"}, headers=gus)
        assert accepted.status == 200
        await page.click("#range button[type=submit]")
        await page.click("#scorecards button:has-text('Gus')")
        await expect(page.locator("#drill-title")).to_contain_text("Gus")
        await expect(page.locator("#drill-title")).to_contain_text("· 1")
        await expect(page.locator("#drill-rows tr")).to_have_count(1)
        assert waiting not in await page.locator("#drill-rows").inner_text()
        await desk.post("/api/agent/status", json={"status": "offline"}, headers=gus)
        await screenshot(page, "dashboard", full_page=True)
        await assert_accessible(page, "dashboard")
