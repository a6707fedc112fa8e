"""PTB's Bot API requests over aiohttp: the engine's own HTTP client, at a seventh of httpx's CPU per call.

PTB's default transport (``HTTPXRequest``) spends ~2.4 ms of CPU per ``sendMessage`` on this machine; the
same call over aiohttp ~0.35 ms (bench/RESULTS.md, Telegram sender). At 100 replies/s that is a quarter of
a core. PTB supports custom transports through ``BaseRequest``; this one keeps its contract: form fields
(JSON-encoded values) or multipart when files are attached, its timeouts, and its errors (``TimedOut``,
``NetworkError``), which the channel maps to retryable send failures.
"""

from __future__ import annotations

import asyncio

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

# PTB's own defaults for HTTPXRequest (seconds).
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 5.0
WRITE_TIMEOUT = 5.0
MEDIA_WRITE_TIMEOUT = 20.0
POOL_TIMEOUT = 1.0


class AiohttpRequest(BaseRequest):
    """A PTB request backend on one ``aiohttp.ClientSession`` with up to ``pool_size`` connections."""

    def __init__(self, pool_size: int = 256) -> None:
        """Make a backend; the session opens in ``initialize`` (on the running loop)."""
        self._pool_size = pool_size
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        """The read timeout used when a call names none."""
        return READ_TIMEOUT

    async def initialize(self) -> None:
        """Open the session (idempotent)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self._pool_size))

    async def shutdown(self) -> None:
        """Close the session (idempotent)."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send one Bot API request; return its HTTP status and body."""
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        files = request_data.multipart_data if request_data and request_data.contains_files else None
        fields = request_data.json_parameters if request_data else {}
        write = _value(write_timeout, MEDIA_WRITE_TIMEOUT if files else WRITE_TIMEOUT)
        # aiohttp has no write or pool timeout: the exchange gets read + write, getting a connection
        # gets pool + connect, and each socket read gets read.
        read = _value(read_timeout, READ_TIMEOUT)
        timeout = aiohttp.ClientTimeout(
            total=_sum(read, write),
            connect=_sum(_value(pool_timeout, POOL_TIMEOUT), _value(connect_timeout, CONNECT_TIMEOUT)),
            sock_connect=_value(connect_timeout, CONNECT_TIMEOUT),
            sock_read=read,
        )
        body: aiohttp.FormData | dict[str, str] = fields
        if files:
            form = aiohttp.FormData(fields)
            for name, (filename, content, mimetype) in files.items():
                form.add_field(name, content, filename=filename, content_type=mimetype)
            body = form
        try:
            async with self._session.request(
                method, url, data=body, headers={"User-Agent": self.USER_AGENT}, timeout=timeout
            ) as response:
                return response.status, await response.read()
        except asyncio.TimeoutError as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc


def _value(given: ODVInput[float], default: float) -> float | None:
    return default if isinstance(given, DefaultValue) else given


def _sum(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b
