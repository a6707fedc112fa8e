"""Who may call a staff route: the session cookie, the role, and the CSRF token on writes."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web

from staff.accounts import COOKIE, Accounts
from staff.errors import json_error

ACCOUNTS = web.AppKey("accounts", Accounts)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def require(role: str) -> Callable[[Handler], Handler]:
    """Wrap a handler: 401 without a session, 403 without ``role`` or, on writes, without the CSRF token."""

    def wrap(handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            accounts = request.config_dict[ACCOUNTS]
            session = await accounts.session(request.cookies.get(COOKIE, ""))
            if session is None:
                return json_error(401, "log in first")
            if not session.has(role):
                return json_error(403, f"this needs the {role} role")
            if request.method not in ("GET", "HEAD", "OPTIONS"):
                sent = request.headers.get("X-CSRF-Token", "")
                if not hmac.compare_digest(sent.encode(), session.csrf.encode()):
                    return json_error(403, "missing or wrong X-CSRF-Token")
            request["session"] = session
            return await handler(request)

        guarded.__doc__ = handler.__doc__
        guarded.__name__ = handler.__name__
        return guarded

    return wrap
