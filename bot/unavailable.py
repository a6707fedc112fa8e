"""While Redis cannot be reached, every request is answered 503 with Retry-After, never a 500.

Platforms retry a webhook that answers 503 (Telegram and WeChat both do), so a customer's message
waits at the platform instead of being lost, and a load balancer reads 503 as "try another instance".
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator

from aiohttp import web

from core.messages import StorageUnavailable
from core.redis import REDIS_AWAY
from core.throttle import throttled

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5
_UNAVAILABLE: tuple[type[Exception], ...] = (*REDIS_AWAY, StorageUnavailable)


def _note(path: str, exc: Exception) -> None:
    # One line for the first failure of an outage, then a few with a count: an outage floods nothing.
    throttled.warning(
        log, "redis unreachable: answering 503", extra={"path": path, "error": type(exc).__name__}
    )


@contextlib.contextmanager
def as_unavailable(what: str) -> Iterator[None]:
    """Turn a Redis connection failure into `StorageUnavailable`, which channels answer with a retry."""
    try:
        yield
    except REDIS_AWAY as exc:
        _note(what, exc)
        raise StorageUnavailable("the shared store cannot be reached; retry shortly") from exc


@web.middleware
async def storage_unavailable(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Answer 503 + Retry-After when the handler could not reach Redis (BusyLoadingError included)."""
    try:
        return await handler(request)
    except _UNAVAILABLE as exc:
        if not isinstance(exc, StorageUnavailable):
            _note(request.path, exc)
        return web.json_response(
            {"error": "storage unavailable; retry later", "retry_after": RETRY_AFTER_SECONDS},
            status=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
