"""What the WeChat Official Account and WeCom adapters share: signatures and the access-token API client.

Both platforms sign callbacks with SHA-1 over the sorted token, timestamp, nonce (and ciphertext),
and both answer API calls with ``{"errcode": ..., "errmsg": ...}``. The access token is fetched by one
instance at a time and shared through the core's store until shortly before it expires; an API call
refused for a stale token refreshes it once and tries again.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

import aiohttp

from channels.base import Shown
from core.messages import Outbound
from core.ports import SendFailed, SharedStore

log = logging.getLogger(__name__)

# Callbacks older or newer than this are refused: a captured request cannot be replayed later.
MAX_CLOCK_SKEW_SECONDS = 300
TOKEN_MARGIN_SECONDS = 300
TOKEN_LOCK_SECONDS = 10.0
TOKEN_WAIT_SECONDS = 5.0
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=10)
# errcodes: the token is stale (refresh once); the platform is busy (retry later).
STALE_TOKEN = frozenset({40001, 40014, 42001})
BUSY = frozenset({-1})  # 系统繁忙


def signature(*parts: str) -> str:
    """Return WeChat's SHA-1 signature over ``parts`` sorted as strings."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def signature_ok(given: str, *parts: str) -> bool:
    """Compare ``given`` with the expected signature in constant time."""
    return hmac.compare_digest(given.encode(), signature(*parts).encode())


def fresh(timestamp: str, now: float | None = None) -> bool:
    """Whether a callback's timestamp is within the allowed clock skew."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    return abs((now if now is not None else time.time()) - sent) <= MAX_CLOCK_SKEW_SECONDS


class ApiError(Exception):
    """The platform answered with a non-zero errcode."""

    def __init__(self, code: int, message: str) -> None:
        """Keep the platform's code and message."""
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def send_failure(exc: ApiError, explained: Mapping[int, str]) -> SendFailed:
    """Turn an API error into a `SendFailed`, in words from ``explained`` where the code is known."""
    reason = explained.get(exc.code, f"platform error {exc.code}: {exc.message}")
    return SendFailed(reason, retryable=exc.code in BUSY or exc.code in STALE_TOKEN)


class WechatApi:
    """Call a WeChat-family HTTP API with a shared, self-refreshing access token."""

    def __init__(
        self, base_url: str, token_path: str, token_query: Mapping[str, str], store: SharedStore
    ) -> None:
        """Fetch tokens from ``base_url + token_path`` with ``token_query``; share them through ``store``."""
        self._base = base_url.rstrip("/")
        self._token_path = token_path
        self._token_query = dict(token_query)
        self._store = store
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Open the HTTP session."""
        self._session = aiohttp.ClientSession(timeout=HTTP_TIMEOUT)

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _request(
        self, method: str, path: str, query: Mapping[str, str], body: Any = None
    ) -> dict[str, Any]:
        if self._session is None:
            raise SendFailed("the API client is not started", retryable=True)
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json"} if data is not None else None
        try:
            async with self._session.request(
                method, self._base + path, params=query, data=data, headers=headers
            ) as r:
                if r.status >= 500 or r.status == 429:
                    raise SendFailed(f"HTTP {r.status} from the platform", retryable=True)
                if r.status >= 400:
                    raise SendFailed(f"HTTP {r.status} from the platform", retryable=False)
                payload = await r.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise SendFailed(f"platform unreachable ({type(exc).__name__})", retryable=True) from exc
        except json.JSONDecodeError as exc:
            raise SendFailed("the platform answered with something that is not JSON", retryable=True) from exc
        if not isinstance(payload, dict):
            raise SendFailed("unexpected answer from the platform", retryable=True)
        return payload

    async def token(self) -> str:
        """Return the shared access token, fetching it if no instance has one."""
        deadline = time.monotonic() + TOKEN_WAIT_SECONDS
        while True:
            cached = await self._store.get("access_token")
            if cached:
                return cached
            # One instance fetches (each fetch may invalidate the token the others hold).
            holder = uuid.uuid4().hex
            if await self._store.add("access_token_lock", holder, TOKEN_LOCK_SECONDS):
                try:
                    # Look again under the lock: another instance may have fetched, stored and let go
                    # of the lock between our read above and our taking it.
                    return await self._store.get("access_token") or await self._fetch_token()
                finally:
                    # A fetch slower than the lock lets another instance take it; that lock is theirs.
                    await self._store.release("access_token_lock", holder)
            if time.monotonic() > deadline:
                raise SendFailed(
                    "timed out waiting for another instance to fetch the access token", retryable=True
                )
            await asyncio.sleep(0.05)

    async def _fetch_token(self) -> str:
        payload = await self._request("GET", self._token_path, self._token_query)
        token = payload.get("access_token")
        if payload.get("errcode") or not isinstance(token, str):
            code = int(payload.get("errcode") or 0)
            # Wrong app id/secret cannot heal by retrying; a busy platform can.
            raise SendFailed(
                f"access token refused ({code} {payload.get('errmsg', '')})", retryable=code == -1
            )
        expires = int(payload.get("expires_in") or 7200)
        await self._store.put("access_token", token, max(60, expires - TOKEN_MARGIN_SECONDS))
        log.info("access token fetched", extra={"expires_in": expires})
        return token

    async def _drop_token(self, stale: str) -> None:
        # Only the token that failed: another instance may already have stored a fresh one.
        await self._store.release("access_token", stale)

    async def call(self, path: str, body: Any) -> dict[str, Any]:
        """POST ``body`` to ``path`` with the access token; raise `ApiError` on a non-zero errcode."""
        for attempt in (1, 2):
            token = await self.token()
            payload = await self._request("POST", path, {"access_token": token}, body)
            code = int(payload.get("errcode") or 0)
            if code == 0:
                return payload
            if code in STALE_TOKEN and attempt == 1:
                log.info("access token refused as stale; refreshing once", extra={"errcode": code})
                await self._drop_token(token)
                continue
            raise ApiError(code, str(payload.get("errmsg", "")))
        raise AssertionError("unreachable")


def menu_text(message: Outbound) -> str:
    """The text WeChat and WeCom send: an image goes as its address (客服消息 images need a media id)."""
    return message.text if not message.image_url else f"{message.text}\n{message.image_url}".strip()


def text_pieces(text: str, size: int) -> list[str]:
    """Split text into the pieces the platform's size limit allows (one empty piece for no text)."""
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def shown_as_menu(message: Outbound, max_chars: int) -> list[Shown]:
    """What a WeChat or WeCom customer sees: a msgmenu with tappable lines, or the text in pieces."""
    text = menu_text(message)
    if message.buttons:
        return [Shown("menu", text, tuple(b.title for b in message.buttons), "lines")]
    return [Shown("text", piece) for piece in text_pieces(text, max_chars)]
