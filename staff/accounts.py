"""Staff accounts and sessions: scrypt password hashes and server-side sessions in Redis.

Sessions are random tokens in an HttpOnly, SameSite=Strict cookie; every state-changing API call must
also carry the session's CSRF token in ``X-CSRF-Token``.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

import redis.asyncio as aioredis

from core.keys import SESSION_TTL_SECONDS, Keys
from staff.throttle import LoginThrottle

ROLES = ("editor", "agent", "supervisor", "quality", "admin")
COOKIE = "cs_session"
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
# The staff app's languages: zh-CN first, English on request.
LANGUAGES = ("zh", "en")
# What an operation asks for when any signed-in user may call it (their own preferences, say).
SIGNED_IN = "staff"
# scrypt at n=2**14, r=8: about 16 MiB and tens of milliseconds per check, per OWASP's minimum.
_N, _R, _P = 2**14, 8, 1


def hash_password(password: str) -> str:
    """Return a self-describing scrypt hash of ``password`` with a random salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


@functools.cache
def _unknown_user_hash() -> str:
    """A hash to check unknown names against: the same work as for a real account, made once."""
    return hash_password(secrets.token_urlsafe(16))


def verify_password(password: str, stored: str) -> bool:
    """Check ``password`` against a stored hash in constant time."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(
        password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=len(digest) // 2
    )
    return hmac.compare_digest(candidate.hex(), digest)


@dataclass(frozen=True)
class Session:
    """A logged-in staff member."""

    token: str
    username: str
    roles: tuple[str, ...]
    csrf: str

    def has(self, role: str) -> bool:
        """Return True when the user holds ``role`` (admin: all; a supervisor: agent and quality too)."""
        implied = role in ("agent", "quality") and "supervisor" in self.roles
        return role == SIGNED_IN or role in self.roles or "admin" in self.roles or implied


class Accounts:
    """Staff users and their sessions under one key prefix."""

    def __init__(self, client: aioredis.Redis[str], prefix: str) -> None:
        """Keep users in ``{prefix}:users`` and sessions in ``{prefix}:session:{token}``."""
        self.redis = client
        self._keys = Keys(prefix)
        self.throttle = LoginThrottle(client, self._keys)

    async def set_user(self, username: str, password: str, roles: Iterable[str]) -> None:
        """Create or replace a user; refuses unknown roles, bad names and short passwords.

        Replacing a user (new password or roles) ends their sessions: each session carries the user's
        epoch, and a new record has a new one.
        """
        if not _USERNAME.match(username):
            raise ValueError("user names are 1-64 letters, digits or _ . @ -")
        if len(password) < 8:
            raise ValueError("passwords need at least 8 characters")
        wanted = tuple(dict.fromkeys(roles))
        unknown = [r for r in wanted if r not in ROLES]
        if unknown or not wanted:
            raise ValueError(f"roles must be some of {', '.join(ROLES)}")
        hashed = await asyncio.to_thread(hash_password, password)
        record = {"password": hashed, "roles": list(wanted), "epoch": secrets.token_hex(8)}
        await self.redis.hset(self._keys.users, username, json.dumps(record))

    async def remove_user(self, username: str) -> bool:
        """Delete a user (their sessions end with the record); False when there was none."""
        return bool(await self.redis.hdel(self._keys.users, username))

    async def exists(self, username: str) -> bool:
        """Return True when ``username`` is a staff account."""
        return bool(_USERNAME.match(username)) and bool(await self.redis.hexists(self._keys.users, username))

    async def has_users(self) -> bool:
        """Return True when at least one staff account exists."""
        return bool(await self.redis.hlen(self._keys.users))

    async def login(self, username: str, password: str, previous: str = "") -> Session | None:
        """Return a new session for valid credentials, else None (same work either way).

        The password check runs off the event loop (scrypt takes tens of milliseconds). The session
        the browser held before (``previous``) ends: a token set before login never survives it.
        """
        raw = await self.redis.hget(self._keys.users, username) if _USERNAME.match(username) else None
        record = json.loads(raw) if raw else None
        # Check unknown names too, so response time does not reveal which names exist.
        stored = record["password"] if record else _unknown_user_hash()
        if not await asyncio.to_thread(verify_password, password, stored) or record is None:
            return None
        if previous:
            await self.logout(previous)
        session = Session(
            secrets.token_urlsafe(32), username, tuple(record["roles"]), secrets.token_urlsafe(16)
        )
        payload = json.dumps({"username": username, "csrf": session.csrf, "epoch": record.get("epoch", "")})
        await self.redis.set(self._keys.session(session.token), payload, ex=SESSION_TTL_SECONDS)
        return session

    async def session(self, token: str) -> Session | None:
        """Return the session for a cookie token, or None (also once its user was replaced or removed).

        The roles are the user's current ones, read from their record after the session.
        """
        if not token or len(token) > 100:
            return None
        raw = await self.redis.get(self._keys.session(token))
        if not raw:
            return None
        data = json.loads(raw)
        user = await self.redis.hget(self._keys.users, data["username"])
        record = json.loads(user) if user else None
        if record is None or record.get("epoch", "") != data.get("epoch", ""):
            await self.logout(token)
            return None
        return Session(token, data["username"], tuple(record["roles"]), data["csrf"])

    async def language(self, username: str) -> str | None:
        """Return the language the user chose for the staff app, or None when they never chose."""
        raw = await self.redis.hget(self._keys.staff_preferences, username)
        chosen = json.loads(raw).get("language") if raw else None
        return chosen if chosen in LANGUAGES else None

    async def set_language(self, username: str, language: str) -> None:
        """Remember the user's language for every staff page and browser; refuses unknown ones."""
        if language not in LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)}")
        await self.redis.hset(self._keys.staff_preferences, username, json.dumps({"language": language}))

    async def logout(self, token: str) -> None:
        """End a session."""
        await self.redis.delete(self._keys.session(token))
