"""The shared key-value store channels keep their state in (tokens, cursors, button payloads), in Redis."""

from __future__ import annotations

from collections.abc import Callable

from core.keys import Keys
from core.redis import AsyncRedis

# Compare and delete in one step: a lock that expired and was taken by another instance stays theirs.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisChannelStore:
    """One channel's namespace of shared values; implements `channels.base.SharedStore`."""

    def __init__(self, client: Callable[[], AsyncRedis], keys: Keys, channel: str) -> None:
        """Keep ``channel``'s values under the deployment's prefix; ``client`` returns the connection."""
        self._client = client
        self._keys = keys
        self._channel = channel

    def _key(self, key: str) -> str:
        return self._keys.channel_store(self._channel, key)

    async def get(self, key: str) -> str | None:
        """Return the value of ``key`` or None."""
        value = await self._client().get(self._key(key))
        return None if value is None else str(value)

    async def put(self, key: str, value: str, ttl_seconds: float | None = None) -> None:
        """Set ``key``, expiring after ``ttl_seconds`` when given."""
        px = max(1, int(ttl_seconds * 1000)) if ttl_seconds is not None else None
        await self._client().set(self._key(key), value, px=px)

    async def add(self, key: str, value: str, ttl_seconds: float) -> bool:
        """Set ``key`` only if absent; return whether it was set."""
        return bool(
            await self._client().set(self._key(key), value, nx=True, px=max(1, int(ttl_seconds * 1000)))
        )

    async def delete(self, key: str) -> None:
        """Remove ``key``."""
        await self._client().delete(self._key(key))

    async def release(self, key: str, value: str) -> bool:
        """Remove ``key`` only while it still holds ``value``; True when it was removed."""
        script = self._client().register_script(_RELEASE)
        return bool(await script(keys=[self._key(key)], args=[value]))
