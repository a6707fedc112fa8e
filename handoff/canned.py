"""Canned replies: shared ones (supervisors keep them) and each agent's own, found by a short word."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass

from core.keys import Keys
from core.redis import AsyncRedis

SCOPES = ("shared", "personal")
MAX_TEXT_CHARS = 2000
MAX_PER_SCOPE = 200
# A shortcut is typed after "/" in the console: one word, Chinese allowed, no spaces or slashes.
_SHORTCUT = re.compile(r"[^\s/]{1,32}")


class CannedError(ValueError):
    """A canned reply that cannot be saved; the message says why."""


@dataclass(frozen=True)
class Canned:
    """One canned reply."""

    shortcut: str
    text: str
    scope: str
    updated_by: str
    updated_ms: int

    def to_dict(self) -> dict[str, object]:
        """Return the reply as JSON-ready data."""
        return {
            "shortcut": self.shortcut,
            "text": self.text,
            "scope": self.scope,
            "updated_by": self.updated_by,
            "updated_at": self.updated_ms,
        }


class CannedReplies:
    """Canned replies in Redis: one hash for the shared ones and one per agent."""

    def __init__(self, client: AsyncRedis, prefix: str) -> None:
        """Use ``client`` for keys under ``prefix``."""
        self._redis = client
        self._keys = Keys(prefix)

    def _key(self, scope: str, agent: str) -> str:
        return self._keys.canned_shared if scope == "shared" else self._keys.canned_agent(agent)

    async def for_agent(self, agent: str) -> list[Canned]:
        """Return the agent's own replies, then the shared ones their own do not override, by shortcut."""
        own = await self._read("personal", agent)
        mine = {c.shortcut for c in own}
        shared = [c for c in await self._read("shared", agent) if c.shortcut not in mine]
        return sorted(own, key=lambda c: c.shortcut) + sorted(shared, key=lambda c: c.shortcut)

    async def _read(self, scope: str, agent: str) -> list[Canned]:
        rows = await self._redis.hgetall(self._key(scope, agent))
        found = []
        for shortcut, raw in rows.items():
            data = json.loads(raw)
            found.append(Canned(shortcut, data["text"], scope, data.get("by", ""), int(data.get("at", 0))))
        return found

    async def save(self, scope: str, agent: str, shortcut: str, text: str) -> Canned:
        """Create or replace one reply; raise CannedError on a bad shortcut, text or scope."""
        if scope not in SCOPES:
            raise CannedError(f"scope must be one of {', '.join(SCOPES)}")
        shortcut = shortcut.strip().lstrip("/")
        if not _SHORTCUT.fullmatch(shortcut):
            raise CannedError("a shortcut is one word of up to 32 characters, without spaces or '/'")
        text = text.strip()
        if not text or len(text) > MAX_TEXT_CHARS:
            raise CannedError(f"the text must be 1 to {MAX_TEXT_CHARS} characters")
        key = self._key(scope, agent)
        if not await self._redis.hexists(key, shortcut) and await self._redis.hlen(key) >= MAX_PER_SCOPE:
            raise CannedError(f"at most {MAX_PER_SCOPE} {scope} replies; delete one first")
        now = int(time.time() * 1000)
        value = json.dumps({"text": text, "by": agent, "at": now}, ensure_ascii=False)
        await self._redis.hset(key, shortcut, value)
        return Canned(shortcut, text, scope, agent, now)

    async def delete(self, scope: str, agent: str, shortcut: str) -> bool:
        """Delete one reply; False when there was none."""
        if scope not in SCOPES:
            raise CannedError(f"scope must be one of {', '.join(SCOPES)}")
        return bool(await self._redis.hdel(self._key(scope, agent), shortcut))
