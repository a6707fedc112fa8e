"""A local WeCom customer-service API (qyapi.weixin.qq.com): tokens, sync_msg, send_msg, service states."""

from __future__ import annotations

import itertools
import json
import time
import uuid
from typing import Any

from aiohttp import web

from tests.fakes.recorder import Call, Recorder


class FakeWecom(Recorder):
    """Serves customer messages through ``sync_msg`` by cursor and enforces WeCom's state rules."""

    def __init__(self, corp_id: str, secret: str, open_kfid: str) -> None:
        """Issue tokens to ``corp_id``/``secret``; one customer-service account ``open_kfid``."""
        super().__init__()
        self.corp_id = corp_id
        self.secret = secret
        self.open_kfid = open_kfid
        self.valid_tokens: set[str] = set()
        self.messages: list[dict[str, Any]] = []  # what sync_msg serves; a cursor is an index into it
        self.states: dict[str, int] = {}  # external_userid → service_state
        self.servicers: dict[str, str] = {}
        self._serial = itertools.count(1)

    def customer_says(self, user: str, text: str, menu_id: str = "") -> str:
        """Queue a customer's text for the next sync; return its msgid."""
        msgid = uuid.uuid4().hex
        content: dict[str, Any] = {"content": text}
        if menu_id:
            content["menu_id"] = menu_id
        self.messages.append(self._item(msgid, user, 3, "text", text=content))
        if self.states.get(user, 4) == 4:
            self.states[user] = 0  # a message after the end opens a new session
        return msgid

    def enters(self, user: str) -> str:
        """Queue an ``enter_session`` event for the next sync; return its msgid."""
        msgid = uuid.uuid4().hex
        event = {
            "event_type": "enter_session",
            "open_kfid": self.open_kfid,
            "external_userid": user,
            "scene": "123",
            "welcome_code": uuid.uuid4().hex,
        }
        item = self._item(msgid, "", 4, "event", event=event)
        del item["external_userid"]
        self.messages.append(item)
        return msgid

    def _item(self, msgid: str, user: str, origin: int, kind: str, **body: Any) -> dict[str, Any]:
        return {
            "msgid": msgid,
            "open_kfid": self.open_kfid,
            "external_userid": user,
            "send_time": int(time.time()),
            "origin": origin,
            "msgtype": kind,
            **body,
        }

    def app(self) -> web.Application:
        """Return the aiohttp application."""
        app = web.Application()
        app.router.add_get("/cgi-bin/gettoken", self._token)
        app.router.add_post("/cgi-bin/kf/{method:.+}", self._kf)
        return app

    async def _token(self, request: web.Request) -> web.Response:
        q = request.query
        self.record(Call("gettoken", {}, dict(q)))
        if q.get("corpid") != self.corp_id or q.get("corpsecret") != self.secret:
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        token = f"WECOM_TOKEN_{next(self._serial)}"
        self.valid_tokens.add(token)
        return web.json_response({"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200})

    async def _kf(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        body: dict[str, Any] = json.loads(await request.read())
        self.record(Call(method, body, dict(request.query)))
        if request.query.get("access_token") not in self.valid_tokens:
            return web.json_response({"errcode": 42001, "errmsg": "access_token expired"})
        failure = self.take_failure(method)
        if failure is not None:
            return web.json_response(failure[1], status=failure[0])
        if body.get("open_kfid") != self.open_kfid:
            return web.json_response({"errcode": 95000, "errmsg": "invalid open_kfid"})
        if method == "sync_msg":
            start = int(body.get("cursor") or 0)
            limit = int(body.get("limit") or 1000)
            page = self.messages[start : start + limit]
            end = start + len(page)
            return web.json_response(
                {
                    "errcode": 0,
                    "errmsg": "ok",
                    "next_cursor": str(end),
                    "has_more": int(end < len(self.messages)),
                    "msg_list": page,
                }
            )
        user = str(body.get("touser") or body.get("external_userid") or "")
        state = self.states.get(user, 0)
        if method == "send_msg":
            # WeCom lets the API speak only while a session is new (0) or with the assistant (1).
            if state not in (0, 1):
                return web.json_response({"errcode": 95018, "errmsg": "send msg not allowed in this state"})
            return web.json_response({"errcode": 0, "errmsg": "ok", "msgid": uuid.uuid4().hex})
        if method == "service_state/get":
            return web.json_response(
                {
                    "errcode": 0,
                    "errmsg": "ok",
                    "service_state": state,
                    "servicer_userid": self.servicers.get(user, ""),
                }
            )
        if method == "service_state/trans":
            target = int(body["service_state"])
            if state == 4 or (target == 3 and not body.get("servicer_userid")):
                return web.json_response({"errcode": 95016, "errmsg": "not allowed to change state"})
            self.states[user] = target
            if target == 3:
                self.servicers[user] = body["servicer_userid"]
            return web.json_response({"errcode": 0, "errmsg": "ok"})
        return web.json_response({"errcode": 404, "errmsg": f"unknown method {method}"}, status=404)
