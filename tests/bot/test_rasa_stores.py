"""Rasa's ticket lock in Redis stays correct when many clients take it at once."""

from __future__ import annotations

import asyncio
import threading
import uuid

from bot.dialogue.stores import AtomicRedisLockStore
from core.redis import sync_client


def test_tickets_are_unique_across_concurrent_issuers(redis_url: str, key_prefix: str) -> None:
    conversation = "locktest:" + uuid.uuid4().hex
    stores = [AtomicRedisLockStore(sync_client(redis_url), key_prefix) for _ in range(8)]
    tickets: list[int] = []
    guard = threading.Lock()

    def issue(store: AtomicRedisLockStore) -> None:
        for _ in range(25):
            ticket = store.issue_ticket(conversation)
            with guard:
                tickets.append(ticket)

    threads = [threading.Thread(target=issue, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Rasa's own RedisLockStore hands out duplicates here (read-modify-write without a transaction).
    assert sorted(tickets) == list(range(200))
    lock = stores[0].get_lock(conversation)
    assert lock is not None
    assert len(lock.tickets) == 200
    stores[0].delete_lock(conversation)


async def test_lock_serialises_holders_in_ticket_order(redis_url: str, key_prefix: str) -> None:
    conversation = "locktest:" + uuid.uuid4().hex
    store = AtomicRedisLockStore(sync_client(redis_url), key_prefix)
    inside = 0
    order: list[int] = []

    async def worker(i: int) -> None:
        nonlocal inside
        async with store.lock(conversation, wait_time_in_seconds=0.005):
            inside += 1
            assert inside == 1
            order.append(i)
            await asyncio.sleep(0)
            inside -= 1

    await asyncio.gather(*(worker(i) for i in range(10)))
    assert order == list(range(10))
    assert store.get_lock(conversation) is None  # the last holder removed it
