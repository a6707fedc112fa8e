"""PTB over the aiohttp transport: the same Bot API requests as PTB's own httpx transport, and its errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, HTTPXRequest

from channels.telegram_http import AiohttpRequest
from tests.fakes.telegram import BOT_USER

TOKEN = "123456:transport-test"


class Capture:
    """A Bot API that records each request's method, content type, fields and files, and answers ok."""

    def __init__(self) -> None:
        """Start with nothing recorded and no delay."""
        self.calls: list[dict[str, Any]] = []
        self.delay = 0.0
        self.status = 200

    def app(self) -> web.Application:
        """Return the aiohttp application."""
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.Response:
        await asyncio.sleep(self.delay)
        fields: dict[str, Any] = {}
        files: dict[str, tuple[str | None, bytes]] = {}
        for name, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                with value.file as upload:
                    files[name] = (value.filename, upload.read())
            else:
                fields[name] = value
        method, kind = request.match_info["method"], request.content_type
        self.calls.append({"method": method, "type": kind, "fields": fields, "files": files})
        if self.status != 200:
            return web.Response(status=self.status, text="<html>Bad Gateway</html>")
        message = {"message_id": 1, "date": 0, "chat": {"id": 42, "type": "private"}, "from": BOT_USER}
        return web.json_response({"ok": True, "result": message})


@pytest.fixture
async def api() -> AsyncIterator[tuple[Capture, str]]:
    capture = Capture()
    server = TestServer(capture.app())
    await server.start_server()
    yield capture, str(server.make_url("")).rstrip("/")
    await server.close()


async def bot_on(base: str, request: BaseRequest) -> Bot:
    bot = Bot(TOKEN, base_url=f"{base}/bot", request=request)
    await request.initialize()  # not bot.initialize(): its getMe would be one more recorded call
    return bot


async def test_the_same_requests_as_ptbs_own_transport(api: tuple[Capture, str]) -> None:
    capture, base = api
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("已解决 ✓", callback_data="p1")]])
    for request in (HTTPXRequest(), AiohttpRequest()):
        bot = await bot_on(base, request)
        sent = await bot.send_message(42, "你好，订单 #123 已发货", reply_markup=keyboard)
        assert sent.chat.id == 42
        await bot.send_photo(42, photo=b"\x89PNG fake image bytes", caption="发票")
        await request.shutdown()
    theirs, ours = capture.calls[:2], capture.calls[2:]
    assert ours == theirs
    assert ours[0]["type"] == "application/x-www-form-urlencoded"
    assert ours[0]["fields"]["text"] == "你好，订单 #123 已发货"
    assert ours[1]["type"] == "multipart/form-data"
    assert ours[1]["fields"]["caption"] == "发票"
    assert [content for _, content in ours[1]["files"].values()] == [b"\x89PNG fake image bytes"]


async def test_a_slow_api_times_out_as_ptb_says(api: tuple[Capture, str]) -> None:
    capture, base = api
    capture.delay = 1.0
    request = AiohttpRequest()
    bot = await bot_on(base, request)
    with pytest.raises(TimedOut):
        await bot.send_message(42, "hello", read_timeout=0.2)
    await request.shutdown()


async def test_an_unreachable_api_or_a_gateway_error_is_a_network_error(api: tuple[Capture, str]) -> None:
    capture, base = api
    capture.status = 502
    request = AiohttpRequest()
    bot = await bot_on(base, request)
    with pytest.raises(NetworkError):
        await bot.send_message(42, "hello")
    await request.shutdown()
    server = TestServer(web.Application())
    await server.start_server()
    closed = str(server.make_url("")).rstrip("/")
    await server.close()  # nothing listens there any more
    request = AiohttpRequest()
    bot = await bot_on(closed, request)
    with pytest.raises(NetworkError, match=r"aiohttp\.ClientConnectorError"):
        await bot.send_message(42, "hello")
    await request.shutdown()


async def test_an_uninitialised_transport_says_so() -> None:
    with pytest.raises(RuntimeError, match="not initialized"):
        await AiohttpRequest().do_request("http://127.0.0.1:9/botx/getMe", "POST")
