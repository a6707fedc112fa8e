"""WeCom customer service (微信客服, ``/webhooks/wecom``): encrypted callbacks, ``sync_msg``, ``send_msg``.

A callback only says "there is something new" (``kf_msg_or_event`` with a short-lived token). The
channel answers at once and pulls the messages with ``sync_msg`` from the cursor kept in the shared
store: one instance syncs at a time (a lock; a callback that finds it taken asks the holder to go
again), each batch is handed to the core before the cursor moves past it, and the core's dedup on
``msgid`` makes a re-read after a crash harmless. Replies go out with ``send_msg``.

Service states mirror our owners: BOT → 1 (智能助手), QUEUED → 2 (待接入池), AGENT → 3 (人工, with
the agent's WeCom userid), CLOSED → 4 (结束). WeCom lets the API speak only in states 0 and 1, so 2 and
3 are used only when agents also serve in WeCom (``WECOM_SERVICERS``); without it the session stays at
1 and our console speaks through the API. On close the session goes back to 1 for the rating prompt
and to 4 right after it, because nothing can be sent once a session has ended.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any
from xml.parsers.expat import ExpatError

import xmltodict
from aiohttp import web
from wechatpy.enterprise.crypto import PrpCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.utils import to_text

from channels.base import Channel, Shown, register_channel
from channels.config import WecomConfig
from channels.wechat_api import (
    ApiError,
    WechatApi,
    fresh,
    menu_text,
    send_failure,
    shown_as_menu,
    signature_ok,
    text_pieces,
)
from core.messages import Inbound, Outbound
from core.ports import Core, SharedStore
from core.tasks import stop_tasks
from core.throttle import throttled

log = logging.getLogger(__name__)

SYNC_LOCK_SECONDS = 30.0
SYNC_LIMIT = 1000
SYNC_RETRIES = 3
MENU_TTL_SECONDS = 30 * 24 * 3600
MAX_TEXT_CHARS = 600
WELCOME_TEXT = "/greet"
ORIGIN_CUSTOMER, ORIGIN_EVENT = 3, 4
STATE = {"BOT": 1, "QUEUED": 2, "AGENT": 3, "CLOSED": 4}
EXPLAINED = {
    95001: "WeCom's limit of messages for this session was reached",
    95013: "the WeCom session has ended: the customer must write first",
    95018: "WeCom does not allow API messages in this session's state",
}


class _Refused(Exception):
    """A request that fails a signature, time or corp-id check."""


@register_channel
class WecomChannel(Channel):
    """WeCom customer service through its callback + sync API."""

    name = "wecom"
    follows_owner = True

    def __init__(self, config: WecomConfig, max_message_chars: int = 4000) -> None:
        """Use ``config``; cut inbound text at ``max_message_chars``."""
        self._config = config
        self._max_chars = max_message_chars
        self._crypto = PrpCrypto(base64.b64decode(config.aes_key + "="))
        self._servicers = dict(config.servicers)
        self._core: Core | None = None
        self._store: SharedStore | None = None
        self._api: WechatApi | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def register(self, app: web.Application, core: Core) -> None:
        """Add ``GET``/``POST /webhooks/wecom`` and the API client's lifecycle."""
        self._core = core
        self._store = core.store(self.name)
        query = {"corpid": self._config.corp_id, "corpsecret": self._config.secret}
        self._api = WechatApi(self._config.api_base_url, "/cgi-bin/gettoken", query, self._store)
        app.router.add_get("/webhooks/wecom", self._verify)
        app.router.add_post("/webhooks/wecom", self._webhook)
        app.cleanup_ctx.append(self._client_ctx)

    async def _client_ctx(self, app: web.Application) -> AsyncIterator[None]:
        assert self._api is not None
        await self._api.start()
        yield
        await stop_tasks(*self._tasks)
        await self._api.close()

    def _open(self, request: web.Request, encrypted: str) -> str:
        q = request.query
        timestamp = q.get("timestamp", "")
        if not signature_ok(
            q.get("msg_signature", ""), self._config.token, timestamp, q.get("nonce", ""), encrypted
        ):
            raise _Refused("bad msg_signature")
        if not fresh(timestamp):
            raise _Refused("stale timestamp")
        try:
            return str(to_text(self._crypto.decrypt(encrypted, self._config.corp_id)))
        except InvalidCorpIdException as exc:
            raise _Refused("message for another corp id") from exc

    async def _verify(self, request: web.Request) -> web.Response:
        """Answer WeCom's URL check with the decrypted ``echostr``."""
        try:
            return web.Response(text=self._open(request, request.query.get("echostr", "")))
        except _Refused as exc:
            throttled.warning(log, "wecom url check: %s", exc)
            return web.Response(status=403, text=str(exc))
        except (ValueError, IndexError, UnicodeDecodeError):
            return web.Response(status=400, text="undecryptable echostr")

    async def _webhook(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            encrypted = xmltodict.parse(to_text(body))["xml"]["Encrypt"]
            if not isinstance(encrypted, str):
                raise TypeError("Encrypt")
            event = xmltodict.parse(self._open(request, encrypted))["xml"]
            if not isinstance(event, dict):
                raise TypeError("xml")
        except _Refused as exc:
            throttled.warning(log, "wecom webhook: %s", exc)
            return web.Response(status=403, text=str(exc))
        except (ExpatError, KeyError, TypeError, ValueError, IndexError, UnicodeDecodeError):
            return web.Response(status=400, text="malformed callback")
        if event.get("Event") == "kf_msg_or_event" and event.get("OpenKfId") == self._config.open_kfid:
            self._spawn(self.sync(str(event.get("Token") or "")))
        return web.Response(text="success")

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def sync(self, callback_token: str = "") -> None:
        """Pull every new message from the cursor on; one instance at a time, none skipped."""
        assert self._store is not None
        kf = self._config.open_kfid
        while True:
            holder = uuid.uuid4().hex
            if not await self._store.add(f"sync_lock:{kf}", holder, SYNC_LOCK_SECONDS):
                await self._store.put(f"sync_again:{kf}", "1", SYNC_LOCK_SECONDS * 2)
                return
            try:
                await self._store.delete(f"sync_again:{kf}")
                await self._sync_all(callback_token)
            finally:
                await self._store.release(f"sync_lock:{kf}", holder)  # still ours, or left alone
            if not await self._store.get(f"sync_again:{kf}"):
                return

    async def _sync_all(self, callback_token: str) -> None:
        assert self._api is not None
        assert self._store is not None
        assert self._core is not None
        kf = self._config.open_kfid
        failures = 0
        while True:
            cursor = await self._store.get(f"cursor:{kf}") or ""
            body: dict[str, Any] = {"cursor": cursor, "limit": SYNC_LIMIT, "open_kfid": kf}
            if callback_token:
                body["token"] = callback_token
            try:
                page = await self._api.call("/cgi-bin/kf/sync_msg", body)
            except Exception as exc:
                failures += 1
                if failures >= SYNC_RETRIES:
                    # The cursor has not moved: the next callback picks up from the same place.
                    log.error("wecom sync_msg failed; will resume at the next callback (%s)", exc)
                    return
                await asyncio.sleep(0.5 * failures)
                continue
            for item in page.get("msg_list") or []:
                inbound = await self._inbound(item)
                if inbound is not None:
                    await self._core.submit(inbound)
            # Only now, with the batch stored, does the cursor move past it.
            if page.get("next_cursor"):
                await self._store.put(f"cursor:{kf}", str(page["next_cursor"]))
            if not page.get("has_more"):
                return

    async def _inbound(self, item: Any) -> Inbound | None:
        if not isinstance(item, dict) or item.get("open_kfid") != self._config.open_kfid:
            return None
        msgid = str(item.get("msgid") or "")
        kind = item.get("msgtype")
        meta: dict[str, Any] = {"open_kfid": item.get("open_kfid")}
        if item.get("origin") == ORIGIN_EVENT and kind == "event":
            event = item.get("event") or {}
            if event.get("event_type") != "enter_session" or not event.get("external_userid"):
                return None
            meta["event"] = "welcome"
            return Inbound(self.name, str(event["external_userid"]), WELCOME_TEXT, msgid or None, meta)
        user = item.get("external_userid")
        if item.get("origin") != ORIGIN_CUSTOMER or not user:
            return None  # messages our servicers sent from the WeCom app, system notices
        if kind == "text":
            text = str((item.get("text") or {}).get("content") or "")
            menu = (item.get("text") or {}).get("menu_id")
            if menu and self._store is not None:
                text = await self._store.get(f"menu:{menu}") or text
                meta["button"] = True
        elif kind == "image":
            text = "[图片 / image]"
        elif kind == "voice":
            text = "[语音 / voice]"
        else:
            text = f"[{kind}]"
        if not text.strip():
            return None
        return Inbound(self.name, str(user), text[: self._max_chars], msgid or None, meta)

    async def send_text(self, recipient_id: str, text: str) -> None:
        """Send plain text with ``send_msg``."""
        await self.send(Outbound(recipient_id, text))

    @classmethod
    def preview(cls, message: Outbound) -> list[Shown]:
        """Return the messages ``send`` makes of ``message``."""
        return shown_as_menu(message, MAX_TEXT_CHARS)

    async def send(self, message: Outbound) -> None:
        """Send text in pieces or buttons as a ``msgmenu``; then end the session if a close is pending."""
        assert self._api is not None
        assert self._store is not None
        base = {"touser": message.recipient_id, "open_kfid": self._config.open_kfid}
        text = menu_text(message)
        bodies: list[dict[str, Any]] = []
        if message.buttons:
            items = []
            for button in message.buttons:
                key = hashlib.sha256(button.payload.encode()).hexdigest()[:16] + uuid.uuid4().hex[:4]
                await self._store.put(f"menu:{key}", button.payload, MENU_TTL_SECONDS)
                items.append({"type": "click", "click": {"id": key, "content": button.title}})
            bodies.append({**base, "msgtype": "msgmenu", "msgmenu": {"head_content": text, "list": items}})
        else:
            pieces = text_pieces(text, MAX_TEXT_CHARS)
            bodies.extend({**base, "msgtype": "text", "text": {"content": piece}} for piece in pieces)
        for body in bodies:
            try:
                await self._api.call("/cgi-bin/kf/send_msg", body)
            except ApiError as exc:
                raise send_failure(exc, EXPLAINED) from exc
        if await self._store.get(f"end:{message.recipient_id}"):
            await self._store.delete(f"end:{message.recipient_id}")
            await self._trans(message.recipient_id, STATE["CLOSED"], None)

    async def owner_changed(self, recipient_id: str, owner: str, agent: str | None) -> None:
        """Move the WeCom session to the state matching ``owner``."""
        assert self._store is not None
        state, servicer = STATE["BOT"], None
        if owner == "CLOSED":
            # Ending now would forbid the rating prompt that follows: hand the session back to the API
            # (state 1) so the prompt can be sent, and end it right after the prompt.
            await self._store.put(f"end:{recipient_id}", "1", 48 * 3600)
            await self._trans(recipient_id, state, None)
            return
        await self._store.delete(f"end:{recipient_id}")
        if owner == "QUEUED" and self._servicers:
            state = STATE["QUEUED"]
        elif owner == "AGENT" and agent in self._servicers:
            state, servicer = STATE["AGENT"], self._servicers[agent]
        await self._trans(recipient_id, state, servicer)

    async def _trans(self, user: str, state: int, servicer: str | None) -> None:
        assert self._api is not None
        key = {"open_kfid": self._config.open_kfid, "external_userid": user}
        try:
            current = await self._api.call("/cgi-bin/kf/service_state/get", key)
            now = int(current.get("service_state") or 0)
            if now == state and (servicer is None or current.get("servicer_userid") == servicer):
                return
            if now == STATE["CLOSED"]:
                return  # an ended session cannot change; the customer's next message opens a new one
            body: dict[str, Any] = {**key, "service_state": state}
            if servicer:
                body["servicer_userid"] = servicer
            await self._api.call("/cgi-bin/kf/service_state/trans", body)
        except ApiError as exc:
            raise send_failure(exc, EXPLAINED) from exc
