"""Who may call a staff route: the session cookie, the role, and the CSRF token on writes."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from http.cookies import CookieError

from aiohttp import web

from staff.accounts import COOKIE, Accounts
from staff.errors import json_error

ACCOUNTS = web.AppKey("accounts", Accounts)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
log = logging.getLogger(__name__)
# A malformed Cookie header is logged once, then once per this many (a client repeating it floods nothing).
MALFORMED_LOG_EVERY = 1000
_malformed = 0


def session_token(request: web.Request) -> str:
    """Return the session cookie's token, or "" (also when another cookie in the header is malformed).

    aiohttp parses the whole header with `http.cookies`, which raises on a single illegal name set by
    some other site or script; a browser sends the session cookie regardless, so it is looked for alone.
    """
    global _malformed
    try:
        return request.cookies.get(COOKIE, "")
    except CookieError:
        _malformed += 1
        if _malformed % MALFORMED_LOG_EVERY == 1:
            log.warning("malformed Cookie header", extra={"path": request.path, "seen": _malformed})
    for part in request.headers.get("Cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return value.strip().strip('"')
    return ""


def require(role: str) -> Callable[[Handler], Handler]:
    """Wrap a handler: 401 without a session, 403 without ``role`` or, on writes, without the CSRF token."""

    def wrap(handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            accounts = request.config_dict[ACCOUNTS]
            session = await accounts.session(session_token(request))
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
