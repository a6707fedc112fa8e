"""A local Telegram Bot API: answers like api.telegram.org (form-encoded requests, JSON replies)."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any

from aiohttp import web

from tests.fakes.recorder import Call, Recorder

BOT_USER = {"id": 7000001, "is_bot": True, "first_name": "Service", "username": "service_test_bot"}


def _decode(value: str) -> Any:
    # PTB JSON-encodes every non-string parameter (reply_markup, chat_id as a number...).
    try:
        return json.loads(value)
    except ValueError:
        return value


class FakeTelegram(Recorder):
    """Plays ``/bot<token>/<method>`` for the methods the channel uses; ``updates`` feeds getUpdates."""

    def __init__(self, token: str) -> None:
        """Accept only ``token``."""
        super().__init__()
        self.token = token
        self.updates: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._message_ids = itertools.count(1)

    def app(self) -> web.Application:
        """Return the aiohttp application."""
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        form = await request.post()
        params = {key: _decode(str(value)) for key, value in form.items()}
        failure = self.take_failure(method)
        self.record(Call(method, params, status=200 if failure is None else failure[0]))
        if failure is not None:
            return web.json_response(failure[1], status=failure[0])
        if "chat_id" in params and type(params["chat_id"]) is not int:
            bad = {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
            return web.json_response(bad, status=400)
        result = await self._result(method, params)
        return web.json_response({"ok": True, "result": result})

    async def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return {**BOT_USER, "can_join_groups": False, "can_read_all_group_messages": False}
        if method in ("sendMessage", "sendPhoto"):
            message: dict[str, Any] = {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": {"id": int(params["chat_id"]), "type": "private"},
                "from": BOT_USER,
            }
            if method == "sendMessage":
                message["text"] = params.get("text", "")
            else:
                message["photo"] = [{"file_id": "p1", "file_unique_id": "u1", "width": 1, "height": 1}]
                if "caption" in params:
                    message["caption"] = params["caption"]
            return message
        if method == "getUpdates":
            timeout = float(params.get("timeout", 0) or 0)
            try:
                first = await asyncio.wait_for(self.updates.get(), timeout=max(timeout, 0.1))
            except asyncio.TimeoutError:
                return []
            batch = [first]
            while not self.updates.empty():
                batch.append(self.updates.get_nowait())
            return batch
        # answerCallbackQuery, deleteWebhook, setWebhook, ...
        return True
