"""Telegram channel: python-telegram-bot 22 behind our own aiohttp webhook (or polling for local use).

The webhook checks ``X-Telegram-Bot-Api-Secret-Token`` in constant time, parses the body into PTB's
`Update`, hands the message to the core (deduplicated on ``update_id``) and answers 200 at once; the
replies go out later through `send`, which the core's outbox retries. Buttons become inline keyboards;
a payload longer than Telegram's 64-byte ``callback_data`` is kept in the shared store under a short key.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import hashlib
import hmac
import json
import logging
import os
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application, ContextTypes, TypeHandler

from channels.base import Channel, Shown, register_channel
from channels.config import TelegramConfig
from channels.telegram_http import AiohttpRequest
from core.messages import EngineNotReady, Inbound, Outbound
from core.ports import Core, SendFailed, SharedStore
from core.tasks import stop_tasks
from core.throttle import throttled

log = logging.getLogger(__name__)

# Opt in to PTB's coming behaviour (time periods as timedelta); otherwise PTB itself warns each time it
# builds a RetryAfter. Read when the value is used, so setting it at import is early enough.
os.environ.setdefault("PTB_TIMEDELTA", "true")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Telegram's own limits: message text, photo caption and callback_data (bytes).
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_BUTTON_TITLE = 64  # Telegram cuts longer inline-keyboard labels
MAX_CALLBACK_BYTES = 64
BUTTON_KEY_PREFIX = "#"
BUTTON_TTL_SECONDS = 30 * 24 * 3600
START_RETRY_SECONDS = 2.0
MAX_START_RETRY_SECONDS = 60.0
ALLOWED_UPDATES = ["message", "callback_query"]
# What the core understands as "say hello": Rasa's intent shorthand for the greeting.
WELCOME_TEXT = "/greet"


def _seconds(exc: RetryAfter) -> float:
    value = exc.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def _chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _parts(message: Outbound) -> tuple[str | None, list[str]]:
    """The photo's caption (None: no photo) and the text messages that follow it, in order."""
    if message.image_url:
        rest = message.text[MAX_CAPTION:]
        return message.text[:MAX_CAPTION], (_chunks(rest, MAX_TEXT) if rest else [])
    return None, _chunks(message.text or " ", MAX_TEXT)


@register_channel
class TelegramChannel(Channel):
    """Telegram bot through PTB's `Application`; our aiohttp server owns the webhook."""

    name = "telegram"

    def __init__(self, config: TelegramConfig, max_message_chars: int = 4000) -> None:
        """Use ``config``; refuse inbound text longer than ``max_message_chars``."""
        self._config = config
        self._max_chars = max_message_chars
        self._application: Application[Any, Any, Any, Any, Any, Any] | None = None
        self._core: Core | None = None
        self._store: SharedStore | None = None
        self._background: set[asyncio.Task[None]] = set()
        # Set once the bot has introduced itself to the Bot API and the webhook takes updates.
        self.ready = asyncio.Event()
        self._state = ("starting", "introducing the bot to the Bot API")

    def register(self, app: web.Application, core: Core) -> None:
        """Add ``POST /webhooks/telegram`` and the PTB application's lifecycle."""
        self._core = core
        self._store = core.store(self.name)
        app.router.add_post("/webhooks/telegram", self._webhook)
        app.cleanup_ctx.append(self._application_ctx)

    async def _application_ctx(self, app: web.Application) -> AsyncIterator[None]:
        base = self._config.api_base_url
        builder = Application.builder().token(self._config.token)
        builder = builder.base_url(f"{base}/bot").base_file_url(f"{base}/file/bot")
        builder = builder.request(AiohttpRequest()).get_updates_request(AiohttpRequest(pool_size=1))
        if self._config.mode == "webhook":
            builder = builder.updater(None)
        application = builder.build()
        application.add_handler(TypeHandler(Update, self._from_polling))
        task = asyncio.create_task(self._start(application))
        yield
        await stop_tasks(task)
        if self._application is not None:
            self._application = None
            if application.updater is not None and application.updater.running:
                await application.updater.stop()
            if application.running:
                await application.stop()
            await application.shutdown()

    def health(self) -> tuple[str, str]:
        """Return ``ok`` once started, else ``starting`` (retrying) or ``failed`` (the token was refused)."""
        return self._state

    async def _start(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        # The engine keeps serving other channels while Telegram is unreachable; the webhook says
        # 503 (Telegram retries) until the bot has introduced itself. Each failed try waits longer.
        delay = START_RETRY_SECONDS
        while True:
            try:
                await application.initialize()
                if self._config.mode == "webhook" and self._config.webhook_url:
                    await application.bot.set_webhook(
                        self._config.webhook_url,
                        secret_token=self._config.webhook_secret,
                        allowed_updates=ALLOWED_UPDATES,
                    )
                if application.updater is not None:
                    await application.start()
                    await application.updater.start_polling(allowed_updates=ALLOWED_UPDATES)
                self._application = application
                self._state = ("ok", "")
                self.ready.set()
                log.info("telegram channel ready", extra={"mode": self._config.mode})
                return
            except InvalidToken:
                self._state = ("failed", "the bot token was refused")
                log.error("telegram: the bot token was refused; the channel stays off")
                return
            except TelegramError as exc:
                self._state = ("starting", f"cannot reach the Bot API ({type(exc).__name__})")
                log.warning("telegram: cannot reach the Bot API yet (%s); retrying", type(exc).__name__)
            except Exception as exc:  # e.g. an answer PTB cannot parse: said once, with its traceback
                self._state = ("starting", f"unexpected failure ({type(exc).__name__}); retrying")
                log.exception("telegram: the channel failed to start; retrying in %.0f s", delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_START_RETRY_SECONDS)

    async def _webhook(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._config.webhook_secret.encode()):
            throttled.warning(log, "telegram webhook: wrong secret token", extra={"remote": request.remote})
            return web.json_response({"error": "wrong secret token"}, status=403)
        application = self._application
        if application is None:
            return web.json_response({"error": "not ready"}, status=503, headers={"Retry-After": "5"})
        try:
            data = json.loads(await request.read())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return web.json_response({"error": "body must be JSON"}, status=400)
        if not isinstance(data, dict) or type(data.get("update_id")) is not int:
            return web.json_response({"error": "not a Telegram update"}, status=400)
        try:
            update = Update.de_json(data, application.bot)
        except (TypeError, ValueError, KeyError, AttributeError):
            return web.json_response({"error": "malformed update"}, status=400)
        if update is None:
            return web.json_response({"error": "malformed update"}, status=400)
        try:
            await self._accept(update, application.bot)
        except EngineNotReady:
            # Nothing stored (Redis unreachable): Telegram delivers the update again later.
            return web.json_response({"error": "try again"}, status=503, headers={"Retry-After": "5"})
        except Exception:
            # Nothing was stored: Telegram delivers the update again, and the dedup makes that safe.
            log.exception("telegram update could not be taken in", extra={"update_id": update.update_id})
            return web.json_response({"error": "try again"}, status=500)
        return web.Response(status=200)

    async def _from_polling(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if isinstance(update, Update):
            await self._accept(update, context.bot)

    async def _accept(self, update: Update, bot: Bot) -> None:
        inbound = await self._inbound(update, bot)
        if inbound is None:
            log.debug("telegram update ignored", extra={"update_id": update.update_id})
            return
        assert self._core is not None
        await self._core.submit(inbound)

    async def _inbound(self, update: Update, bot: Bot) -> Inbound | None:
        message_id = f"u{update.update_id}"
        query = update.callback_query
        if query is not None:
            # Stop the button's spinner; the answer itself comes as a normal message.
            task = asyncio.create_task(self._answer_query(bot, query.id))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            chat = query.message.chat.id if query.message is not None else query.from_user.id
            payload = await self._payload(query.data or "")
            if not payload:
                return None
            tapped = {
                "user_id": query.from_user.id,
                "language": query.from_user.language_code,
                "button": True,
            }
            return Inbound(self.name, str(chat), payload, message_id, tapped)
        message = update.message
        if message is None or message.from_user is None:
            return None
        meta: dict[str, Any] = {
            "user_id": message.from_user.id,
            "username": message.from_user.username,
            "language": message.from_user.language_code,
        }
        if message.text is not None:
            text = message.text
            if text == "/start" or text.startswith("/start "):
                text, meta["event"] = WELCOME_TEXT, "welcome"
        elif message.photo:
            meta["image_file_id"] = message.photo[-1].file_id
            text = message.caption or "[图片 / photo]"
        else:
            text = message.caption or "[不支持的消息类型 / unsupported message]"
        return Inbound(self.name, str(message.chat.id), text[: self._max_chars], message_id, meta)

    async def _answer_query(self, bot: Bot, query_id: str) -> None:
        try:
            await bot.answer_callback_query(query_id)
        except TelegramError as exc:
            log.info("telegram: callback query not answered (%s)", type(exc).__name__)

    async def _payload(self, data: str) -> str:
        if not data.startswith(BUTTON_KEY_PREFIX) or self._store is None:
            return data
        return await self._store.get(f"cb:{data}") or ""

    async def _callback_data(self, payload: str) -> str:
        if len(payload.encode()) <= MAX_CALLBACK_BYTES and not payload.startswith(BUTTON_KEY_PREFIX):
            return payload
        key = BUTTON_KEY_PREFIX + hashlib.sha256(payload.encode()).hexdigest()[:24]
        assert self._store is not None
        await self._store.put(f"cb:{key}", payload, BUTTON_TTL_SECONDS)
        return key

    async def send_text(self, recipient_id: str, text: str) -> None:
        """Send plain text."""
        await self.send(Outbound(recipient_id, text))

    @classmethod
    def preview(cls, message: Outbound) -> list[Shown]:
        """Return the messages ``send`` makes: the keyboard goes under the photo, else the last text."""
        caption, pieces = _parts(message)
        titles = tuple(b.title[:MAX_BUTTON_TITLE] for b in message.buttons)
        shown = [Shown("text", piece) for piece in pieces]
        if caption is not None:
            return [Shown("photo", caption, titles, "keyboard", message.image_url), *shown]
        last = shown[-1]
        return [*shown[:-1], Shown("text", last.text, titles, "keyboard" if titles else "")]

    async def send(self, message: Outbound) -> None:
        """Send text (split at Telegram's limit), a photo with caption, and buttons as an inline keyboard."""
        application = self._application
        if application is None:
            raise SendFailed("Telegram client not started", retryable=True)
        bot = application.bot
        markup = None
        if message.buttons:
            rows = [
                [
                    InlineKeyboardButton(
                        b.title[:MAX_BUTTON_TITLE], callback_data=await self._callback_data(b.payload)
                    )
                ]
                for b in message.buttons
            ]
            markup = InlineKeyboardMarkup(rows)
        chat_id = message.recipient_id
        try:
            caption, pieces = _parts(message)
            if caption is not None:
                photo = message.image_url
                await bot.send_photo(chat_id, photo=photo, caption=caption or None, reply_markup=markup)
                markup = None
            for i, piece in enumerate(pieces):
                await bot.send_message(chat_id, piece, reply_markup=markup if i == len(pieces) - 1 else None)
        except RetryAfter as exc:
            raise SendFailed("rate limited by Telegram", retryable=True, retry_after=_seconds(exc)) from exc
        except Forbidden as exc:
            raise SendFailed("the customer has blocked the bot", retryable=False) from exc
        except BadRequest as exc:
            raise SendFailed(f"Telegram refused the message: {exc.message}", retryable=False) from exc
        except NetworkError as exc:  # timeouts, 5xx
            raise SendFailed(f"Telegram unavailable: {exc.message}", retryable=True) from exc
        except TelegramError as exc:
            raise SendFailed(f"Telegram error: {exc.message}", retryable=False) from exc
