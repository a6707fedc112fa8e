"""Rasa's tracker and lock stores on our Redis connection, so every engine instance shares them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncGenerator, Callable
from typing import Any, cast

import redis
from rasa.core.lock import TicketLock
from rasa.core.lock_store import RedisLockStore
from rasa.core.tracker_store import RedisTrackerStore
from rasa.shared.core.domain import Domain

from core.redis import SyncRedis

log = logging.getLogger(__name__)

# Rasa's tickets live 60 s, so a ticket left by a killed instance held its conversation for a minute.
# Ours live 10 s and are renewed by their holder (waiting or served) three times per lifetime.
TICKET_LIFETIME_SECONDS = 10.0
RENEWALS_PER_LIFETIME = 3


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
    instances handle one conversation at once. Here each change is a WATCH/MULTI transaction, and a
    ticket is short-lived but renewed while its holder lives, so a dead holder's ticket lapses in seconds.
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

    @contextlib.asynccontextmanager
    async def lock(
        self, conversation_id: str, lock_lifetime: float | None = None, wait_time_in_seconds: float = 1
    ) -> AsyncGenerator[TicketLock, None]:
        """Take a ticket, renew it while waiting and while served, and give it back at the end."""
        lifetime = lock_lifetime or TICKET_LIFETIME_SECONDS
        ticket = self.issue_ticket(conversation_id, lifetime)
        renewer = asyncio.create_task(self._keep(conversation_id, ticket, lifetime))
        try:
            yield await self._acquire_lock(conversation_id, ticket, wait_time_in_seconds)
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            self.cleanup(conversation_id, ticket)

    async def _keep(self, conversation_id: str, ticket: int, lifetime: float) -> None:
        while True:
            await asyncio.sleep(lifetime / RENEWALS_PER_LIFETIME)
            try:
                self.renew(conversation_id, ticket, lifetime)
            except redis.RedisError:
                # Redis trouble: try again next time; if it lasts, the ticket lapses as after a death.
                log.warning("ticket renewal failed", exc_info=True, extra={"conversation": conversation_id})

    def renew(self, conversation_id: str, ticket: int, lifetime: float) -> None:
        """Push the expiry of ``ticket`` ``lifetime`` seconds into the future."""

        def change(lock: TicketLock | None) -> TicketLock | None:
            for held in lock.tickets if lock is not None else ():
                if held.number == ticket:
                    held.expires = time.time() + lifetime
            return lock

        self._update(conversation_id, change)

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = TICKET_LIFETIME_SECONDS) -> int:
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
