"""The staff APIs' one error type, its JSON shape and the middleware that answers it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web


class ApiError(Exception):
    """A failure the client must hear about: its HTTP status and a message in the API's error shape."""

    def __init__(self, status: int, message: str, **extra: object) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


def json_error(status: int, message: str, **extra: object) -> web.Response:
    """Return the API's error shape."""
    return web.json_response({"error": message, **extra}, status=status)


@web.middleware
async def api_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Answer an `ApiError` raised anywhere below a handler in the API's error shape."""
    try:
        return await handler(request)
    except ApiError as exc:
        return json_error(exc.status, exc.message, **exc.extra)
