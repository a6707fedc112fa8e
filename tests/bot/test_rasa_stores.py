"""Rasa's ticket lock in Redis stays correct when many clients take it at once."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

from bot.dialogue import stores as stores_module
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


async def test_a_ticket_left_by_a_dead_instance_lapses_within_its_short_lifetime(
    redis_url: str, key_prefix: str
) -> None:
    conversation = "locktest:" + uuid.uuid4().hex
    dead, alive = (AtomicRedisLockStore(sync_client(redis_url), key_prefix) for _ in range(2))
    # What a killed instance leaves: a ticket nobody renews any more (here one second long).
    dead.issue_ticket(conversation, 1.0)
    started = time.monotonic()
    async with alive.lock(conversation, 1.0, wait_time_in_seconds=0.05):
        waited = time.monotonic() - started
    # Rasa's own tickets would have held the conversation for their 60 s lifetime.
    assert 0.9 <= waited < 3.0
    # And the engine's tickets are seconds long, not Rasa's minute.
    assert stores_module.TICKET_LIFETIME_SECONDS <= 10


async def test_a_live_holder_keeps_its_ticket_past_the_lifetime(redis_url: str, key_prefix: str) -> None:
    conversation = "locktest:" + uuid.uuid4().hex
    first, second = (AtomicRedisLockStore(sync_client(redis_url), key_prefix) for _ in range(2))
    order: list[str] = []

    async def slow() -> None:
        async with first.lock(conversation, 0.6, wait_time_in_seconds=0.05):
            order.append("slow in")
            await asyncio.sleep(2.0)  # more than three lifetimes
            order.append("slow out")

    async def quick() -> None:
        await asyncio.sleep(0.1)
        async with second.lock(conversation, 0.6, wait_time_in_seconds=0.05):
            order.append("quick")

    await asyncio.gather(slow(), quick())
    assert order == ["slow in", "slow out", "quick"]
    assert first.get_lock(conversation) is None
