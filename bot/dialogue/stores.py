"""Rasa's tracker and lock stores on our Redis connection, so every engine instance shares them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, cast

import redis
from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, RedisLockStore
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


class AtomicRedisLockStore(RedisLockStore):
    """Rasa's ticket lock in Redis, with every read-modify-write made atomic.

    Rasa's RedisLockStore reads the lock, changes it in Python and writes it back. With two engine
    instances that loses tickets: a lost ticket makes its holder's wait end in LockError, or lets two
    instances handle one conversation at once. Here each change is a WATCH/MULTI transaction.
    """

    def __init__(self, client: SyncRedis, prefix: str) -> None:
        """Use ``client`` for keys under ``prefix``."""
        super().__init__(key_prefix=prefix)
        self.red = client

    def _update(self, conversation_id: str, change: Callable[[TicketLock | None], TicketLock | None]) -> Any:
        """Apply ``change`` to the stored lock atomically; a None result deletes the lock."""
        key = self.key_prefix + conversation_id
        with self.red.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = cast("bytes | None", pipe.get(key))  # immediate while WATCHing
                    lock = TicketLock.from_dict(json.loads(raw)) if raw else None
                    updated = change(lock)
                    pipe.multi()
                    if updated is None:
                        pipe.delete(key)
                    else:
                        pipe.set(key, updated.dumps())
                    pipe.execute()
                    return updated
                except redis.WatchError:
                    continue

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        """Issue the next ticket for the conversation, creating its lock if needed."""
        issued: list[int] = []

        def change(lock: TicketLock | None) -> TicketLock:
            lock = lock or self.create_lock(conversation_id)
            issued[:] = [lock.issue_ticket(lock_lifetime)]
            return lock

        self._update(conversation_id, change)
        return issued[0]

    def update_lock(self, conversation_id: str) -> None:
        """Drop expired tickets."""

        def change(lock: TicketLock | None) -> TicketLock | None:
            if lock is not None:
                lock.remove_expired_tickets()
            return lock

        self._update(conversation_id, change)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        """Remove a served ticket."""

        def change(lock: TicketLock | None) -> TicketLock | None:
            if lock is not None:
                lock.remove_ticket_for(ticket_number)
            return lock

        self._update(conversation_id, change)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Remove a served ticket, and the lock with it when nobody else waits, in one step."""

        def change(lock: TicketLock | None) -> TicketLock | None:
            if lock is None:
                return None
            lock.remove_ticket_for(ticket_number)
            return lock if lock.is_someone_waiting() else None

        self._update(conversation_id, change)
