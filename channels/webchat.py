"""The embeddable web chat widget (``/webchat``): one ``<script>`` tag, one WebSocket per visitor.

The widget opens ``/webchat/ws`` and says hello with its visitor id, the token the engine signed for
it, and the id of the last message it has shown. The engine replays what it missed (or the recent
history on a fresh page), then pushes new messages as they land in the visitor's mailbox, whichever
instance wrote them. Each customer message carries a client id; the widget keeps unsent ones in
localStorage and sends them again after a reconnect, and the core's dedup on that id makes the resend
harmless, so a message is delivered once and in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from channels.base import Channel, Shown, register_channel
from channels.config import WebchatConfig
from channels.signing import IdSigner
from core.messages import EngineNotReady, Inbound, Outbound
from core.ports import Core, Mailboxes, SharedStore
from core.tasks import stop_tasks
from core.throttle import throttled

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "webchat_static"
HELLO_TIMEOUT_SECONDS = 10.0
# 4,000 characters even when every one is sent as a \uXXXX escape, plus the frame around them.
MAX_FRAME_BYTES = 32 * 1024
MAX_CLIENT_ID = 64
VISITOR_CHARS = 32
RESYNC_SECONDS = 30.0  # re-read the mailbox now and then even without a signal (a missed publish)


def _now_ms() -> int:
    return int(time.time() * 1000)


@register_channel
class WebchatChannel(Channel):
    """Web chat widget over WebSocket; messages to a visitor go through its mailbox."""

    name = "webchat"

    def __init__(self, config: WebchatConfig, max_message_chars: int = 4000) -> None:
        """Use ``config``; refuse customer messages longer than ``max_message_chars``."""
        self._config = config
        self._max_chars = max_message_chars
        self._core: Core | None = None
        self._store: SharedStore | None = None
        self._mailboxes: Mailboxes | None = None
        self._signer = IdSigner(lambda: self._store, "visitor_key")
        self._sockets: set[web.WebSocketResponse] = set()

    def register(self, app: web.Application, core: Core) -> None:
        """Add the widget script, its demo page and the socket."""
        self._core = core
        self._store = core.store(self.name)
        self._mailboxes = core.mailboxes(self.name)
        app.router.add_get("/webchat/widget.js", self._script)
        app.router.add_get("/webchat/demo", self._demo)
        app.router.add_get("/webchat/ws", self._socket)
        app.cleanup_ctx.append(self._sockets_ctx)

    async def _sockets_ctx(self, app: web.Application) -> AsyncIterator[None]:
        yield
        for ws in list(self._sockets):
            await ws.close(code=1001, message=b"server shutting down")

    async def _script(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "widget.js", headers={"Cache-Control": "public, max-age=300"})

    async def _demo(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "demo.html")

    def _origin_ok(self, request: web.Request) -> bool:
        origin = request.headers.get("Origin", "")
        allowed = self._config.allowed_origins
        if "*" in allowed:
            return True
        if origin.rstrip("/") in allowed:
            return True
        # Otherwise only the engine's own pages (same host and port).
        return bool(origin) and urlsplit(origin).netloc == request.host

    async def _session(self, hello: dict[str, Any]) -> tuple[str, str]:
        visitor, token = hello.get("visitor"), hello.get("token")
        if (
            isinstance(visitor, str)
            and isinstance(token, str)
            and len(visitor) == VISITOR_CHARS
            and await self._signer.valid(visitor, token)
        ):
            return visitor, token
        visitor = secrets.token_hex(VISITOR_CHARS // 2)
        return visitor, await self._signer.token(visitor)

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        if not self._origin_ok(request):
            throttled.warning(
                log,
                "webchat: socket from a page that is not allowed",
                extra={"origin_chars": len(request.headers.get("Origin", ""))},
            )
            return web.json_response({"error": "origin not allowed"}, status=403)
        ws = web.WebSocketResponse(heartbeat=25, max_msg_size=MAX_FRAME_BYTES)
        await ws.prepare(request)
        self._sockets.add(ws)
        try:
            await self._serve(ws)
        finally:
            self._sockets.discard(ws)
        return ws

    async def _serve(self, ws: web.WebSocketResponse) -> None:
        try:
            hello = await ws.receive_json(timeout=HELLO_TIMEOUT_SECONDS)
        except (asyncio.TimeoutError, TypeError, ValueError):
            await ws.close(code=4400, message=b"say hello first")
            return
        if not isinstance(hello, dict) or hello.get("type") != "hello":
            await ws.close(code=4400, message=b"say hello first")
            return
        visitor, token = await self._session(hello)
        language = str(hello.get("language") or "")[:16]
        await ws.send_json({"type": "session", "visitor": visitor, "token": token})
        assert self._mailboxes is not None
        last = hello.get("last") if visitor == hello.get("visitor") else ""
        pusher = asyncio.create_task(self._push(ws, visitor, str(last or "")))
        try:
            async for frame in ws:
                if frame.type != WSMsgType.TEXT:
                    continue
                await self._on_frame(ws, visitor, language, frame.data)
        finally:
            await stop_tasks(pusher, expected=(ConnectionResetError, RuntimeError))

    async def _push(self, ws: web.WebSocketResponse, visitor: str, last: str) -> None:
        assert self._mailboxes is not None
        event = self._mailboxes.watch(visitor)
        try:
            first = True
            while not ws.closed:
                event.clear()
                count = self._config.history if first and not last else 200
                for entry_id, fields in await self._mailboxes.read(visitor, last, count):
                    await ws.send_json({"type": "message", "id": entry_id, **_public(fields)})
                    last = entry_id
                if first:
                    await ws.send_json({"type": "ready"})
                    first = False
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(event.wait(), RESYNC_SECONDS)
        except (ConnectionResetError, RuntimeError):
            return  # the socket went away mid-send; the widget resumes from its last id
        finally:
            self._mailboxes.unwatch(visitor, event)

    async def _on_frame(self, ws: web.WebSocketResponse, visitor: str, language: str, raw: str) -> None:
        try:
            frame = json.loads(raw)
        except ValueError:
            await ws.send_json({"type": "error", "error": "frames must be JSON"})
            return
        if not isinstance(frame, dict) or frame.get("type") != "message":
            return  # typing notices and anything newer than this server: ignored
        client_id, text = frame.get("id"), frame.get("text")
        if not isinstance(client_id, str) or not 0 < len(client_id) <= MAX_CLIENT_ID:
            await ws.send_json(
                {"type": "error", "error": "each message needs an 'id' of up to 64 characters"}
            )
            return
        if not isinstance(text, str) or not text.strip():
            await ws.send_json({"type": "error", "id": client_id, "error": "empty message"})
            return
        if len(text) > self._max_chars:
            await ws.send_json(
                {"type": "error", "id": client_id, "error": f"messages up to {self._max_chars} characters"}
            )
            return
        assert self._core is not None
        assert self._mailboxes is not None
        received = _now_ms()
        inbound = Inbound(self.name, visitor, text, client_id, {"language": language, "client_id": client_id})
        try:
            submitted = await self._core.submit(inbound)
        except Exception as exc:
            if not isinstance(exc, EngineNotReady):  # an outage is logged once where it is seen
                log.exception("webchat message could not be taken in")
            await ws.send_json(
                {"type": "error", "id": client_id, "error": "not received; it will be sent again"}
            )
            return
        if not submitted.duplicate:
            # A tapped button sends its payload but shows its title.
            display = frame.get("display")
            shown = display[:200] if isinstance(display, str) and display.strip() else text
            entry = {"role": "customer", "text": shown, "client_id": client_id, "at": str(received)}
            await self._mailboxes.append(visitor, entry)
        await ws.send_json({"type": "ack", "id": client_id})

    async def send_text(self, recipient_id: str, text: str) -> None:
        """Put plain text in the visitor's mailbox."""
        await self.send(Outbound(recipient_id, text))

    @classmethod
    def preview(cls, message: Outbound) -> list[Shown]:
        """Return the bubble the widget draws: the image above the text, buttons as chips below."""
        titles = tuple(b.title for b in message.buttons)
        kind = "photo" if message.image_url else "text"
        return [Shown(kind, message.text, titles, "chips" if titles else "", message.image_url)]

    async def send(self, message: Outbound) -> None:
        """Put the message in the visitor's mailbox; every socket of theirs, on any instance, shows it."""
        assert self._mailboxes is not None
        entry = {
            "role": "agent" if message.author else "bot",
            "text": message.text,
            "author": message.author,
            "at": str(_now_ms()),
        }
        if message.buttons:
            entry["buttons"] = json.dumps(
                [{"title": b.title, "payload": b.payload} for b in message.buttons], ensure_ascii=False
            )
        if message.image_url:
            entry["image"] = message.image_url
        await self._mailboxes.append(message.recipient_id, entry)


def _public(fields: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "role": fields.get("role", "bot"),
        "text": fields.get("text", ""),
        "at": int(fields.get("at") or 0),
    }
    if fields.get("author"):
        out["author"] = fields["author"]
    if fields.get("client_id"):
        out["client_id"] = fields["client_id"]
    if fields.get("image"):
        out["image"] = fields["image"]
    if fields.get("buttons"):
        out["buttons"] = json.loads(fields["buttons"])
    return out
