"""A local WeChat Official Account API (api.weixin.qq.com): access tokens and 客服消息 sends."""

from __future__ import annotations

import itertools
import json
from typing import Any

from aiohttp import web

from tests.fakes.recorder import Call, Recorder


class FakeWechat(Recorder):
    """Plays ``/cgi-bin/token`` and ``/cgi-bin/message/custom/send`` with WeChat's errcodes."""

    def __init__(self, app_id: str, secret: str) -> None:
        """Issue tokens only to ``app_id``/``secret``."""
        super().__init__()
        self.app_id = app_id
        self.secret = secret
        self.valid_tokens: set[str] = set()
        # Customers who have not written for 48 hours: sends to them get errcode 45015.
        self.outside_window: set[str] = set()
        self._serial = itertools.count(1)

    def expire_tokens(self) -> None:
        """Make every issued token stale, as WeChat does after 2 hours or a new fetch elsewhere."""
        self.valid_tokens.clear()

    def app(self) -> web.Application:
        """Return the aiohttp application."""
        app = web.Application()
        app.router.add_get("/cgi-bin/token", self._token)
        app.router.add_post("/cgi-bin/message/custom/send", self._send)
        return app

    async def _token(self, request: web.Request) -> web.Response:
        q = request.query
        self.record(Call("token", {}, dict(q)))
        if (
            q.get("grant_type") != "client_credential"
            or q.get("appid") != self.app_id
            or q.get("secret") != self.secret
        ):
            return web.json_response({"errcode": 40013, "errmsg": "invalid appid"})
        token = f"ACCESS_TOKEN_{next(self._serial)}"
        self.valid_tokens.add(token)
        return web.json_response({"access_token": token, "expires_in": 7200})

    async def _send(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = json.loads(await request.read())
        self.record(Call("custom_send", body, dict(request.query)))
        if request.query.get("access_token") not in self.valid_tokens:
            return web.json_response({"errcode": 42001, "errmsg": "access_token expired"})
        failure = self.take_failure("custom_send")
        if failure is not None:
            return web.json_response(failure[1], status=failure[0])
        if body.get("touser") in self.outside_window:
            return web.json_response(
                {"errcode": 45015, "errmsg": "response out of time limit or subscription is canceled"}
            )
        return web.json_response({"errcode": 0, "errmsg": "ok"})
