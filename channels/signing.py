"""Tokens that prove a client owns an id (a widget visitor, a REST sender): HMAC under a deployment key."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable

from core.ports import SharedStore

KEY_TTL_SECONDS = 10 * 365 * 24 * 3600


class IdSigner:
    """Signs ids with one key per deployment, kept in the channel's shared store."""

    def __init__(self, store: Callable[[], SharedStore | None], name: str) -> None:
        """Keep the key under ``name`` in the store ``store()`` returns once the channel is registered."""
        self._store = store
        self._name = name
        self._key: bytes | None = None

    async def _signing_key(self) -> bytes:
        if self._key is None:
            store = self._store()
            assert store is not None, "the channel is not registered yet"
            # Made by whichever instance gets there first; every instance then signs alike.
            await store.add(self._name, secrets.token_hex(32), KEY_TTL_SECONDS)
            stored = await store.get(self._name)
            assert stored is not None
            self._key = bytes.fromhex(stored)
        return self._key

    async def token(self, value: str) -> str:
        """Return the token for ``value``."""
        return hmac.new(await self._signing_key(), value.encode(), hashlib.sha256).hexdigest()

    async def valid(self, value: str, token: str) -> bool:
        """Return True when ``token`` is ``value``'s (compared in constant time)."""
        return hmac.compare_digest(token.encode(), (await self.token(value)).encode())
