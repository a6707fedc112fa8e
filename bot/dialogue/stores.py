"""Rasa's tracker store on our Redis connection, so every engine instance shares it."""

from __future__ import annotations

from rasa.core.tracker_store import RedisTrackerStore
from rasa.shared.core.domain import Domain

from core.redis import SyncRedis


def tracker_store(
    client: SyncRedis, prefix: str, domain: Domain | None, ttl_seconds: int | None
) -> RedisTrackerStore:
    """Return Rasa's Redis tracker store using ``client`` (any URL, unix sockets included)."""
    store = RedisTrackerStore(domain, key_prefix=prefix, record_exp=ttl_seconds or None)
    # Rasa builds its client from host/port only; ours comes from REDIS_URL, embedded socket included.
    store.red = client
    return store
