"""The embeddable widget on another site, in a real browser, through a relay we can cut like a network."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from playwright.async_api import expect

from channels.config import WebchatConfig
from handoff.web.appkeys import DELIVER, TRANSCRIPTS
from tests.chromium import assert_accessible, chromium, screenshot
from tests.conftest import EngineFactory


class Relay:
    """A TCP relay between the browser and the engine; `drop` is the network going away."""

    def __init__(self, target_port: int) -> None:
        self.target = target_port
        self.port = 0
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    async def drop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()


@pytest_asyncio.fixture(scope="module")
async def shop() -> AsyncIterator[tuple[TestServer, Relay]]:
    """A page on another origin that embeds the widget from the engine (through the relay)."""
    relay = Relay(0)

    async def page(request: web.Request) -> web.Response:
        html = (
            "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'><title>Shop</title>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            "<style>div{color:red}</style></head><body><h1>Our shop</h1>"
            f"<script src='http://127.0.0.1:{relay.port}/webchat/widget.js' data-title='客服' async>"
            "</script>"
            "</body></html>"
        )
        return web.Response(text=html, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    server = TestServer(app)
    await server.start_server()
    yield server, relay
    await server.close()


@pytest_asyncio.fixture(scope="module")
async def widget_engine(
    trained_model: object, start_engine: EngineFactory, key_prefix: str, shop: tuple[TestServer, Relay]
) -> AsyncIterator[TestClient]:
    server, relay = shop
    page_origin = str(server.make_url("")).rstrip("/")
    engine = await start_engine(
        instance_id="widget",
        redis_prefix=key_prefix + "wg",
        webchat=WebchatConfig(allowed_origins=(page_origin,)),
    )
    relay.target = engine.port or 0
    await relay.start()
    yield engine
    with contextlib.suppress(Exception):
        await relay.drop()


async def test_embed_chat_reload_and_reconnect_without_losing_a_message(
    widget_engine: TestClient, shop: tuple[TestServer, Relay]
) -> None:
    server, relay = shop
    async with chromium() as browser:
        context = await browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
        page = await context.new_page()
        await page.goto(str(server.make_url("/")))
        await page.locator(".bubble").click()
        box = page.locator("textarea")
        await box.fill("退款多久到账")
        await box.press("Enter")
        await expect(page.locator(".msg.bot").last).to_contain_text("到账")

        # History comes back after a reload (the visitor id lives in localStorage).
        await page.reload()
        await page.locator(".bubble").click()
        await expect(page.locator(".msg.customer")).to_have_text(["退款多久到账"])
        await expect(page.locator(".msg.bot").last).to_contain_text("到账")

        # The network drops: messages typed meanwhile wait, then go out once each, in order.
        await relay.drop()
        await expect(page.locator(".status")).to_be_visible()
        await box.fill("谢谢")
        await box.press("Enter")
        await box.fill("你好")
        await box.press("Enter")
        await expect(page.locator(".msg.customer.pending")).to_have_count(2)
        await relay.start()
        await expect(page.locator(".status")).to_be_hidden(timeout=20_000)
        await expect(page.locator(".msg.customer.pending")).to_have_count(0, timeout=20_000)
        await expect(page.locator(".msg.bot").last).to_contain_text("智能客服", timeout=20_000)
        await expect(page.locator(".msg.bot", has_text="不客气")).to_have_count(1)

        visitor = await page.evaluate(
            f"JSON.parse(localStorage.getItem('cs-webchat:127.0.0.1:{relay.port}:visitor'))"
        )
        lines = await widget_engine.app[TRANSCRIPTS].read(f"webchat:{visitor}")
        assert [x.text for x in lines if x.role == "customer"] == ["退款多久到账", "谢谢", "你好"]

        # An agent's message: shown as text (never HTML), with the agent's name; the badge counts it
        # while the panel is closed.
        await page.locator(".head .close").click()
        await widget_engine.app[DELIVER](
            f"webchat:{visitor}", '<img src=x onerror="document.title=1">稍等', "wang"
        )
        await expect(page.locator(".badge")).to_have_text("1")
        await page.locator(".bubble").click()
        await expect(page.locator(".msg.agent .body").last).to_have_text(
            '<img src=x onerror="document.title=1">稍等'
        )
        await expect(page.locator(".head .who")).to_have_text("客服 wang 为您服务")
        assert await page.locator(".log img").count() == 0
        assert await page.title() == "Shop"
        await context.close()


async def test_english_browsers_get_an_english_widget(
    widget_engine: TestClient, shop: tuple[TestServer, Relay]
) -> None:
    server, _ = shop
    async with chromium() as browser:
        context = await browser.new_context(locale="en-US")
        page = await context.new_page()
        await page.goto(str(server.make_url("/")))
        await page.locator(".bubble").click()
        await expect(page.locator("form .send")).to_have_text("Send")
        await page.locator("textarea").fill("hello")
        await page.locator("textarea").press("Enter")
        await expect(page.locator(".msg.bot").last).to_contain_text("Hello")
        await context.close()


async def test_on_a_phone_the_chat_is_full_screen_greets_and_offers_questions(
    widget_engine: TestClient, shop: tuple[TestServer, Relay]
) -> None:
    server, _ = shop
    async with chromium() as browser:
        context = await browser.new_context(
            locale="zh-CN", viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True
        )
        page = await context.new_page()
        await page.goto(str(server.make_url("/")))
        bubble = page.get_by_role("button", name="打开客服聊天")
        # The icon is drawn (an SVG), not an emoji that shows as a box without an emoji font.
        assert await bubble.locator("svg").count() == 1
        assert (await bubble.inner_text()).strip() in ("", "0")
        await screenshot(page, "widget-phone-closed")
        await assert_accessible(page, "widget-phone-closed")
        await bubble.click()
        dialog = page.get_by_role("dialog", name="客服")
        await expect(dialog).to_be_visible()
        assert await dialog.bounding_box() == {"x": 0, "y": 0, "width": 375, "height": 667}
        await expect(bubble).to_be_hidden()
        await expect(page.locator(".welcome")).to_contain_text("智能客服")
        await expect(page.locator(".welcome .buttons button")).to_have_count(4)
        await screenshot(page, "widget-phone-open")
        await assert_accessible(page, "widget-phone-open")
        # A suggested question is asked as if typed; the greeting steps aside for the conversation.
        await page.locator(".welcome button", has_text="什么时候发货").click()
        await expect(page.locator(".msg.customer")).to_have_text(["什么时候发货"])
        await expect(page.locator(".msg.bot").last).to_contain_text("发货")
        await expect(page.locator(".welcome")).to_be_hidden()
        await screenshot(page, "widget-phone-answered")
        await assert_accessible(page, "widget-phone-answered")
        # Handed over: the customer asks for a person, is queued, and the agent who picks it up shows
        # with a name and an avatar at the top of the phone screen.
        await page.locator("textarea").fill("转人工")
        await page.locator("textarea").press("Enter")
        await expect(page.locator(".msg.bot").last).to_contain_text("排在第 1 位")
        visitor = await page.evaluate(
            "Object.keys(localStorage).filter(k => k.endsWith(':visitor'))"
            ".map(k => JSON.parse(localStorage.getItem(k)))[0]"
        )
        await widget_engine.app[DELIVER](f"webchat:{visitor}", "您好，我是小李，帮您查一下发货", "小李")
        await expect(page.locator(".msg.agent .body").last).to_have_text("您好，我是小李，帮您查一下发货")
        await expect(page.locator(".msg.agent .avatar").last).to_have_text("小")
        await expect(page.locator(".head .who")).to_have_text("客服 小李 为您服务")
        await screenshot(page, "widget-phone-handed-over")
        await assert_accessible(page, "widget-phone-handed-over")
        # Keyboard: Escape closes the chat and gives the focus back to the button that opened it.
        await page.keyboard.press("Escape")
        await expect(dialog).to_be_hidden()
        assert (
            await page.evaluate("document.getElementById('cs-webchat').shadowRoot.activeElement.className")
            == "bubble"
        )
        await context.close()
