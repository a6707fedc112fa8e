"""WeChat Official Account channel (``/webhooks/wechat``): wechatpy for crypto and XML, aiohttp for the API.

WeChat waits 5 s for an answer and then retries (three times), so the webhook hands the message to the
core and waits a little for the reply: a single plain reply ready in time goes back passively in the
response; anything else (buttons, several messages, a slow answer, an agent) is answered ``success``
and sent through the customer-service message API (客服消息) by the core's outbox. Buttons become a
``msgmenu``; a tap comes back as text with ``bizmsgmenuid``, whose payload the shared store keeps.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any
from xml.parsers.expat import ExpatError

import xmltodict
from aiohttp import web
from wechatpy import parse_message
from wechatpy.crypto import PrpCrypto
from wechatpy.exceptions import InvalidAppIdException
from wechatpy.replies import TextReply
from wechatpy.utils import to_text

from channels.base import Channel, Shown, register_channel
from channels.config import WechatConfig
from channels.wechat_api import (
    ApiError,
    WechatApi,
    fresh,
    menu_text,
    send_failure,
    shown_as_menu,
    signature,
    signature_ok,
    text_pieces,
)
from core.messages import EngineNotReady, Inbound, Outbound
from core.ports import Core, SharedStore
from core.throttle import throttled

log = logging.getLogger(__name__)

# Long enough for a bot answer (tens of ms), short enough to stay well inside WeChat's 5 s.
PASSIVE_WAIT_SECONDS = 3.0
MAX_TEXT_CHARS = 600  # 客服消息 text is limited to 2048 bytes; 600 Han characters fit with room
MENU_TTL_SECONDS = 30 * 24 * 3600
WELCOME_TEXT = "/greet"
SEND_PATH = "/cgi-bin/message/custom/send"
EXPLAINED = {
    45015: "outside WeChat's 48-hour reply window: the customer must write first",
    45047: "WeChat's limit of messages without a customer reply was reached",
    40003: "WeChat does not know this customer (openid)",
    43004: "the customer has unsubscribed",
}


def _passive_ok(replies: Sequence[Outbound]) -> bool:
    # A passive reply carries exactly one text message; buttons need the msgmenu API.
    return len(replies) == 1 and not replies[0].buttons and not replies[0].image_url


def _chunks(text: str) -> list[str]:
    return text_pieces(text, MAX_TEXT_CHARS)


@register_channel
class WechatChannel(Channel):
    """WeChat Official Account: plaintext or safe (AES) mode, passive or API replies."""

    name = "wechat"

    def __init__(self, config: WechatConfig, max_message_chars: int = 4000) -> None:
        """Use ``config``; cut inbound text at ``max_message_chars``."""
        self._config = config
        self._max_chars = max_message_chars
        self._crypto = PrpCrypto(_key(config.aes_key)) if config.aes_key else None
        self._core: Core | None = None
        self._store: SharedStore | None = None
        self._api: WechatApi | None = None

    def register(self, app: web.Application, core: Core) -> None:
        """Add ``GET``/``POST /webhooks/wechat`` and the API client's lifecycle."""
        self._core = core
        self._store = core.store(self.name)
        query = {
            "grant_type": "client_credential",
            "appid": self._config.app_id,
            "secret": self._config.app_secret,
        }
        self._api = WechatApi(self._config.api_base_url, "/cgi-bin/token", query, self._store)
        app.router.add_get("/webhooks/wechat", self._verify)
        app.router.add_post("/webhooks/wechat", self._webhook)
        app.cleanup_ctx.append(self._client_ctx)

    async def _client_ctx(self, app: web.Application) -> AsyncIterator[None]:
        assert self._api is not None
        await self._api.start()
        yield
        await self._api.close()

    def _signed(self, request: web.Request) -> bool:
        q = request.query
        timestamp, nonce = q.get("timestamp", ""), q.get("nonce", "")
        if not signature_ok(q.get("signature", ""), self._config.token, timestamp, nonce):
            throttled.warning(log, "wechat webhook: bad signature", extra={"remote": request.remote})
            return False
        if not fresh(timestamp):
            throttled.warning(log, "wechat webhook: stale timestamp", extra={"remote": request.remote})
            return False
        return True

    async def _verify(self, request: web.Request) -> web.Response:
        """Answer WeChat's URL check: echo ``echostr`` when the signature is right."""
        if not self._signed(request):
            return web.Response(status=403, text="bad signature")
        return web.Response(text=request.query.get("echostr", ""))

    async def _webhook(self, request: web.Request) -> web.Response:
        if not self._signed(request):
            return web.Response(status=403, text="bad signature")
        body = await request.read()
        safe = request.query.get("encrypt_type") == "aes"
        try:
            xml = self._decrypt(request, body) if safe else to_text(body)
            message = parse_message(xml)
        except _Refused as exc:
            throttled.warning(log, "wechat webhook: %s", exc)
            return web.Response(status=403, text=str(exc))
        except (ExpatError, KeyError, TypeError, ValueError, AttributeError, UnicodeDecodeError):
            return web.Response(status=400, text="malformed XML")
        if message is None:
            return web.Response(status=400, text="empty body")
        inbound = await self._inbound(message)
        if inbound is None:
            return web.Response(text="success")
        assert self._core is not None
        try:
            submitted = await self._core.submit(inbound, wait_reply=PASSIVE_WAIT_SECONDS, passive=_passive_ok)
        except EngineNotReady:
            # Nothing stored (Redis unreachable): WeChat retries, and the dedup keeps the message single.
            return web.Response(status=503, text="try again", headers={"Retry-After": "5"})
        except Exception:
            # Nothing stored: WeChat's retry brings the message again, and the dedup keeps it single.
            log.exception("wechat message could not be taken in")
            return web.Response(status=500, text="try again")
        if not submitted.replies:
            return web.Response(text="success")
        reply = TextReply(source=message.target, target=message.source, content=submitted.replies[0].text)
        rendered = reply.render()
        if safe:
            rendered = self._encrypt(rendered, request.query.get("nonce", ""))
        return web.Response(text=rendered, content_type="application/xml")

    def _decrypt(self, request: web.Request, body: bytes) -> str:
        if self._crypto is None:
            raise _Refused("safe mode is not configured (WECHAT_AES_KEY)")
        outer = xmltodict.parse(to_text(body))["xml"]
        encrypted = outer["Encrypt"]
        q = request.query
        if not signature_ok(
            q.get("msg_signature", ""),
            self._config.token,
            q.get("timestamp", ""),
            q.get("nonce", ""),
            encrypted,
        ):
            raise _Refused("bad msg_signature")
        try:
            return str(to_text(self._crypto.decrypt(encrypted, self._config.app_id)))
        except InvalidAppIdException as exc:
            raise _Refused("message for another app id") from exc
        except (ValueError, IndexError) as exc:
            raise ValueError("undecryptable") from exc

    def _encrypt(self, xml: str, nonce: str) -> str:
        assert self._crypto is not None
        timestamp = str(int(time.time()))
        encrypted = to_text(self._crypto.encrypt(xml, self._config.app_id))
        signed = signature(self._config.token, timestamp, nonce, encrypted)
        return (
            f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt><MsgSignature><![CDATA[{signed}]]></MsgSignature>"
            f"<TimeStamp>{timestamp}</TimeStamp><Nonce><![CDATA[{nonce}]]></Nonce></xml>"
        )

    async def _inbound(self, message: Any) -> Inbound | None:
        data: dict[str, Any] = message._data
        openid = str(message.source or "")
        if not openid:
            return None
        meta: dict[str, Any] = {"to": message.target}
        message_id = str(message.id) if message.id else f"{openid}:{message.time}"
        kind = message.type
        if kind == "text":
            text = str(message.content or "")
            menu = data.get("bizmsgmenuid")
            if menu and self._store is not None:
                text = await self._store.get(f"menu:{menu}") or text
                meta["button"] = True
        elif kind == "image":
            text, meta["image_url"] = "[图片 / image]", data.get("PicUrl", "")
        elif kind == "voice":
            text = str(data.get("Recognition") or "") or "[语音 / voice]"
        elif kind == "event":
            if message.event not in ("subscribe", "subscribe_scan"):
                return None
            text, meta["event"] = WELCOME_TEXT, "welcome"
        else:
            text = f"[{kind}]"
        if not text.strip():
            return None
        return Inbound(self.name, openid, text[: self._max_chars], message_id, meta)

    async def send_text(self, recipient_id: str, text: str) -> None:
        """Send plain text through the customer-service message API."""
        await self.send(Outbound(recipient_id, text))

    @classmethod
    def preview(cls, message: Outbound) -> list[Shown]:
        """Return the 客服消息 ``send`` makes of ``message``."""
        return shown_as_menu(message, MAX_TEXT_CHARS)

    async def send(self, message: Outbound) -> None:
        """Send through 客服消息: text in pieces, buttons as a ``msgmenu``."""
        assert self._api is not None
        assert self._store is not None
        bodies: list[dict[str, Any]] = []
        text = menu_text(message)
        if message.buttons:
            items = []
            for button in message.buttons:
                key = hashlib.sha256(button.payload.encode()).hexdigest()[:16] + uuid.uuid4().hex[:4]
                await self._store.put(f"menu:{key}", button.payload, MENU_TTL_SECONDS)
                items.append({"id": key, "content": button.title})
            menu = {"head_content": text, "list": items, "tail_content": ""}
            bodies.append({"touser": message.recipient_id, "msgtype": "msgmenu", "msgmenu": menu})
        else:
            for piece in _chunks(text):
                bodies.append({"touser": message.recipient_id, "msgtype": "text", "text": {"content": piece}})
        for body in bodies:
            try:
                await self._api.call(SEND_PATH, body)
            except ApiError as exc:
                raise send_failure(exc, EXPLAINED) from exc


class _Refused(Exception):
    """An authenticated-looking request that fails a cryptographic check."""


def _key(aes_key: str) -> bytes:
    return base64.b64decode(aes_key + "=")
