"""Log in, log out and "who am I": the staff session's own API."""

from __future__ import annotations

import math
from typing import Any

from aiohttp import web

from core.keys import SESSION_TTL_SECONDS
from staff.accounts import COOKIE, LANGUAGES, SIGNED_IN
from staff.api import Operation, read_json, session_of
from staff.auth import ACCOUNTS, session_token
from staff.errors import json_error

# Whether the session cookie carries `Secure` (settings.cookie_secure; browsers accept it on localhost).
COOKIE_SECURE = web.AppKey("cookie_secure", bool)


async def login(request: web.Request) -> web.StreamResponse:
    """Log in with a user name and password; sets the session cookie."""
    body = await read_json(request)
    if not isinstance(body, dict):
        return json_error(400, 'send {"username": ..., "password": ...}')
    accounts = request.config_dict[ACCOUNTS]
    username, address = str(body.get("username", "")), request.remote or ""
    wait = await accounts.throttle.wait_seconds(username, address)
    if wait > 0:
        seconds = math.ceil(wait)
        return web.json_response(
            {"error": f"too many wrong passwords; try again in {seconds} s", "retry_after": seconds},
            status=429,
            headers={"Retry-After": str(seconds)},
        )
    session = await accounts.login(username, str(body.get("password", "")), session_token(request))
    if session is None:
        await accounts.throttle.failed(username, address)
        return json_error(401, "wrong user name or password")
    await accounts.throttle.succeeded(username)
    response = web.json_response(
        {"username": session.username, "roles": list(session.roles), "csrf": session.csrf}
    )
    secure = request.config_dict[COOKIE_SECURE]
    response.set_cookie(
        COOKIE,
        session.token,
        httponly=True,
        secure=secure,
        samesite="Strict",
        max_age=SESSION_TTL_SECONDS,
        path="/",
    )
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    """End the session."""
    await request.config_dict[ACCOUNTS].logout(session_token(request))
    response = web.json_response({"ok": True})
    response.del_cookie(COOKIE, path="/")
    return response


async def whoami(request: web.Request) -> web.StreamResponse:
    """Return the logged-in user, roles and CSRF token (401 when not logged in)."""
    session = await request.config_dict[ACCOUNTS].session(session_token(request))
    if session is None:
        return json_error(401, "log in first")
    accounts = request.config_dict[ACCOUNTS]
    return web.json_response(
        {
            "username": session.username,
            "roles": list(session.roles),
            "csrf": session.csrf,
            "language": await accounts.language(session.username),
        }
    )


async def set_language(request: web.Request) -> web.StreamResponse:
    """Remember the signed-in user's language for the staff app."""
    body = await read_json(request)
    language = body.get("language") if isinstance(body, dict) else None
    if language not in LANGUAGES:
        return json_error(400, f'send {{"language": ...}}, one of {", ".join(LANGUAGES)}')
    await request.config_dict[ACCOUNTS].set_language(session_of(request).username, str(language))
    return web.json_response({"language": language})


def operations() -> list[Operation]:
    """Return the session operations (no role: they are how a user gets one)."""
    return [
        Operation("POST", "/api/login", login, "Log in (sets an HttpOnly session cookie).", None, "Login"),
        Operation("POST", "/api/logout", logout, "Log out.", None),
        Operation("GET", "/api/session", whoami, "The logged-in user, CSRF token and language.", None),
        Operation("PUT", "/api/session/language", set_language, "Keep my language.", SIGNED_IN, "Language"),
    ]


SCHEMAS: dict[str, Any] = {
    "Language": {
        "type": "object",
        "required": ["language"],
        "properties": {"language": {"type": "string", "enum": list(LANGUAGES)}},
    },
    "Login": {
        "type": "object",
        "required": ["username", "password"],
        "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
    },
}
