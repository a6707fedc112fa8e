"""The agent console in a real browser, with a customer in the web chat in another browser context."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from playwright.async_api import expect

from handoff.web.appkeys import QUEUE
from tests.bot.test_agent_api import PASSWORD, support_engine  # noqa: F401  (session fixture)
from tests.chromium import assert_accessible, chromium, screenshot


async def test_customer_and_agent_talk_then_the_bot_answers_again(support_engine: TestClient) -> None:  # noqa: F811
    base = str(support_engine.make_url("")).rstrip("/")
    for name in ("ann", "bob", "carl"):  # Ann will take it from the console
        await support_engine.app[QUEUE].set_status(name, "offline")
    async with chromium() as browser:
        customer = await (await browser.new_context(locale="zh-CN")).new_page()
        await customer.goto(base + "/")
        await customer.fill("#text", "我要投诉，转人工")
        await customer.press("#text", "Enter")
        await expect(customer.locator(".msg.bot", has_text="正在为您转接人工客服")).to_have_count(1)

        agent = await (
            await browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
        ).new_page()
        await agent.goto(base + "/agent")
        await screenshot(agent, "login")
        await assert_accessible(agent, "login")
        await agent.fill("#username", "ann")
        await agent.fill("#password", PASSWORD)
        await agent.click("#login-form button[type=submit]")
        await expect(agent.locator("#who")).to_have_text("ann")
        await agent.select_option("#presence", "online")
        offered = agent.locator("#mine li", has_text="我要投诉，转人工")
        await offered.locator("button.accept").click()
        # Lists say when they are empty (nobody else waits once Ann has the conversation).
        await expect(agent.locator("#queue-state")).to_have_text("暂无排队的客户。")
        await expect(agent.locator("#mine-state")).to_be_hidden()
        await expect(agent.locator("#lines .line.customer").first).to_have_text("我要投诉，转人工")
        await expect(agent.locator("#lines .line.bot").first).to_be_visible()  # the bot's part is shown
        # The customer's profile sits beside the conversation; internal notes stay with the agents.
        await expect(agent.locator("#profile-fields")).to_contain_text("rest")
        await expect(agent.locator("#notes-state")).to_have_text("暂无内部备注。")  # a new customer
        await agent.fill("#note", "<b>老客户</b>，语气急")
        await agent.press("#note", "Enter")
        await expect(agent.locator("#notes div").last).to_have_text("ann: <b>老客户</b>，语气急")
        await expect(agent.locator("#notes-state")).to_be_hidden()
        await expect(agent.locator("#history li.selected")).to_have_count(1)
        await expect(agent.locator("#history-state")).to_be_hidden()
        await screenshot(agent, "console-conversation")
        await assert_accessible(agent, "console-conversation")

        await agent.fill("#reply", "您好，我是 Ann，<script>alert(1)</script>请说")
        await agent.press("#reply", "Enter")
        await expect(customer.locator(".msg.agent").last).to_have_text(
            "ann：您好，我是 Ann，<script>alert(1)</script>请说", timeout=10_000
        )
        # A canned reply of her own: saved in the side panel, then "/" + a few letters and Enter insert it.
        await agent.fill("#canned-shortcut", "wait")
        await agent.fill("#canned-text", "请稍等，我帮您查一下物流")
        await agent.click("#canned-save")
        await expect(agent.locator("#canned-list li", has_text="/wait")).to_have_count(1)
        await expect(agent.locator("#canned-state")).to_be_hidden()
        await agent.fill("#reply", "")
        await agent.type("#reply", "/wa")
        await expect(agent.locator("#canned-menu li")).to_have_count(1)
        await agent.press("#reply", "Enter")  # picks the reply; does not send "/wa"
        await expect(agent.locator("#reply")).to_have_value("请稍等，我帮您查一下物流")
        await agent.press("#reply", "Enter")
        await expect(customer.locator(".msg.agent").last).to_have_text(
            "ann：请稍等，我帮您查一下物流", timeout=10_000
        )
        await customer.fill("#text", "快递三天没动了")
        await customer.press("#text", "Enter")
        await expect(agent.locator("#lines .line.customer").last).to_have_text(
            "快递三天没动了", timeout=10_000
        )

        await agent.click("#close")
        await expect(agent.locator("#mine li", has_text="我要投诉，转人工")).to_have_count(0)
        # The customer rates the conversation with a button, then the bot answers again.
        await customer.locator(".msg.bot .buttons button", has_text="非常满意").click(timeout=10_000)
        await expect(customer.locator(".msg.bot").last).to_contain_text("感谢您的评价")
        await customer.fill("#text", "退款多久到账")
        await customer.press("#text", "Enter")
        await expect(customer.locator(".msg.bot").last).to_contain_text("工作日")

        # The bot's conversations are listed (other tests' too: the text picks this customer's); Ann
        # takes this one over and the bot falls silent.
        await customer.fill("#text", "订单号 A7731 的退款呢")
        await customer.press("#text", "Enter")
        taken = agent.locator("#bot-list li", has_text="A7731")
        await taken.locator("button.take-over").click(timeout=20_000)  # the list refreshes every 10 s
        await expect(agent.locator("#mine li", has_text="处理中")).to_have_count(1)
        await expect(agent.locator("#lines .line.system").last).to_contain_text("客服已接入")
        await agent.fill("#reply", "我是 Ann，退款的事我来跟进")
        await agent.press("#reply", "Enter")
        await expect(customer.locator(".msg.agent").last).to_have_text(
            "ann：我是 Ann，退款的事我来跟进", timeout=10_000
        )

        await agent.click("#lang-switch")
        await expect(agent.locator("#send")).to_have_text("Send")
        await agent.select_option("#presence", "offline")
