"""REST channel in Rasa's wire format, so Rasa users' tools and load generators work unchanged.

``POST /webhooks/rest/webhook`` with ``{"sender": "...", "message": "...", "metadata": {...}}`` answers
``[{"recipient_id": ..., "text": ..., "buttons": [{"title", "payload"}], "image": ...}]``. The answer's
``X-Outbox-Token`` header is what the sender shows to read its outbox (agents' later replies): only the
client that talks as a sender hears what is said to it. With an auth token configured, every message must
carry it (``?token=`` or ``Authorization: Bearer``), as with Rasa's own ``--auth-token``.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

from aiohttp import web

from channels.base import Channel, register_channel
from channels.signing import IdSigner
from core.messages import EngineNotReady, Inbound, Outbound
from core.ports import ChannelCannotPush, Core, SharedStore

log = logging.getLogger(__name__)

MAX_SENDER_CHARS = 128
OUTBOX_TOKEN_HEADER = "X-Outbox-Token"


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _rasa_message(message: Outbound) -> dict[str, Any]:
    body: dict[str, Any] = {"recipient_id": message.recipient_id}
    if message.text:
        body["text"] = message.text
    if message.buttons:
        body["buttons"] = [{"title": b.title, "payload": b.payload} for b in message.buttons]
    if message.image_url:
        body["image"] = message.image_url
    return body


@register_channel
class RestChannel(Channel):
    """Request/response channel: replies go back in the HTTP response of the message that caused them."""

    name = "rest"
    can_push = False

    def __init__(self, max_message_chars: int = 4000, auth_token: str = "") -> None:
        """Refuse messages longer than ``max_message_chars``; with ``auth_token``, those without it."""
        self._max_chars = max_message_chars
        self._auth_token = auth_token
        self._store: SharedStore | None = None
        self._signer = IdSigner(lambda: self._store, "outbox_key")

    async def outbox_token(self, sender: str) -> str:
        """Return the token that lets the client talking as ``sender`` read its outbox."""
        return await self._signer.token(sender)

    def _authorised(self, request: web.Request) -> bool:
        if not self._auth_token:
            return True
        given = request.query.get("token", "")
        bearer = request.headers.get("Authorization", "")
        if bearer.startswith("Bearer "):
            given = bearer.removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), self._auth_token.encode())

    def register(self, app: web.Application, core: Core) -> None:
        """Add ``POST /webhooks/rest/webhook``."""
        on_message = core.on_message
        self._store = core.store(self.name)

        async def webhook(request: web.Request) -> web.Response:
            if not self._authorised(request):
                return _error(401, "a valid token is required (?token= or Authorization: Bearer)")
            parsed = await self._parse(request)
            if isinstance(parsed, web.Response):
                return parsed
            replies: list[dict[str, Any]] = []

            async def reply(message: Outbound) -> None:
                replies.append(_rasa_message(message))

            try:
                await on_message(parsed, reply)
            except EngineNotReady as exc:
                return web.json_response({"error": str(exc)}, status=503, headers={"Retry-After": "2"})
            except Exception:
                # The client may retry: nothing was answered, and Rasa saves a tracker only at the end.
                log.exception("message handling failed", extra={"sender_chars": len(parsed.sender_id)})
                return _error(500, "the message could not be processed; please retry")
            token = await self.outbox_token(parsed.sender_id)
            return web.json_response(
                replies,
                dumps=lambda o: json.dumps(o, ensure_ascii=False),
                headers={OUTBOX_TOKEN_HEADER: token},
            )

        app.router.add_post("/webhooks/rest/webhook", webhook)

    async def _parse(self, request: web.Request) -> Inbound | web.Response:
        try:
            body = await request.json(loads=json.loads)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _error(400, "body must be a JSON object")
        if not isinstance(body, dict):
            return _error(400, "body must be a JSON object")
        sender, text, metadata = body.get("sender"), body.get("message"), body.get("metadata") or {}
        if not isinstance(sender, str) or not sender.strip():
            return _error(400, "'sender' must be a non-empty string")
        if len(sender) > MAX_SENDER_CHARS:
            return _error(400, f"'sender' must be at most {MAX_SENDER_CHARS} characters")
        if not isinstance(text, str) or not text.strip():
            return _error(400, "'message' must be a non-empty string")
        if len(text) > self._max_chars:
            return _error(413, f"'message' must be at most {self._max_chars} characters")
        if not isinstance(metadata, dict):
            return _error(400, "'metadata' must be an object")
        message_id = metadata.get("message_id")
        return Inbound(
            channel=self.name,
            sender_id=sender,
            text=text,
            message_id=str(message_id) if message_id is not None else None,
            metadata=metadata,
        )

    async def send_text(self, recipient_id: str, text: str) -> None:
        """Refuse: a REST client only hears replies to its own requests."""
        raise ChannelCannotPush(f"the REST channel cannot push to {recipient_id!r}")
